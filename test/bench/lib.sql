-- lib.sql: timing helpers shared by the benchmarks (loaded into a bench database).
CREATE SCHEMA IF NOT EXISTS bench;

-- Run each query `rounds` times, alternating between them so that drift in
-- the machine's speed hits both alike; report the median milliseconds.
CREATE OR REPLACE FUNCTION bench.compare(queries text[], rounds int DEFAULT 7)
RETURNS TABLE (query text, median_ms numeric) LANGUAGE plpgsql AS $$
DECLARE
    times float8[][] := array_fill(0::float8, ARRAY[array_length(queries, 1), rounds]);
    t0 timestamptz;
BEGIN
    FOR r IN 1..rounds LOOP
        FOR q IN 1..array_length(queries, 1) LOOP
            t0 := clock_timestamp();
            EXECUTE queries[q];
            times[q][r] := extract(epoch FROM clock_timestamp() - t0) * 1000;
        END LOOP;
    END LOOP;
    FOR q IN 1..array_length(queries, 1) LOOP
        query := queries[q];
        SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 1) INTO median_ms
        FROM unnest(times[q:q][1:rounds]) AS x;
        RETURN NEXT;
    END LOOP;
END
$$;
