-- Demo, part 3: insurers, their partitions, and isolation between them.
\set ECHO none
SET search_path = onshikaku, public;
\echo
\echo '== 11. Register insurers of different kinds: each gets its own partition of every per-insurer table =='
SELECT register_insurer('01130012', '全国健康保険協会 東京支部', 'kyokai_kenpo') AS kyokai \gset
SELECT register_insurer('06139992', 'デモ健康保険組合', 'kenpo_kumiai') AS kumiai \gset
SELECT register_insurer('131011', '千代田区 国民健康保険', 'shichoson_kokuho') AS kokuho \gset
SELECT register_insurer('39131156', '東京都後期高齢者医療広域連合', 'koki_koreisha') AS koki \gset
SELECT register_insurer(NULL, '千代田区福祉事務所', 'seikatsu_hogo', '12130019') AS hogo \gset
SELECT i.insurer_id, coalesce(i.insurer_number::text, '公費 ' || i.public_payer_number) AS number, i.name,
       c.name_ja AS kind, c.nws_provision AS "副本提供", c.idv_my_number AS "個人番号取得"
FROM insurer i JOIN insurer_kind_capability c USING (kind) ORDER BY insurer_id;
SELECT p.short_name AS "table", count(*) AS partitions
FROM per_insurer_table p JOIN pg_inherits h ON h.inhparent = p.relid GROUP BY p.short_name, p.create_order ORDER BY p.create_order;
\echo
\echo '== 12. A role acts for the insurers it is mapped to; row-level security does the rest =='
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_kyokai_clerk') THEN
        CREATE ROLE demo_kyokai_clerk IN ROLE onshikaku_insurer;
    END IF;
END $$;
SELECT grant_insurer('demo_kyokai_clerk', :kyokai) \gset
INSERT INTO qualification (insurer_id, qualification_id, insured_branch_number, link_number, name_on_card, birth_date,
                           card_symbol, card_number, card_branch, acquired_on, insured_or_dependent)
VALUES (:kyokai, nextval('qualification_id_seq'), '1234567890123452', '1234567890123452', '協会 太郎', '1980-05-01', '1001', '2001', '00', '2020-04-01', 1),
       (:kokuho, nextval('qualification_id_seq'), '9876543210987658', '9876543210987658', '国保 花子', '1975-11-20', '', '3001', '00', '2019-04-01', 1);
SET ROLE demo_kyokai_clerk;
\echo 'as demo_kyokai_clerk:'
SELECT insurer_id, name_on_card, card_symbol, card_number, card_branch FROM qualification;
\echo 'the counter lookup by card goes straight to the insurer''s partition (find_by_card):'
SELECT name_on_card, birth_date, acquired_on, lost_on FROM find_by_card(:kyokai, '1001', '2001', '00');
\echo '(the 国保 member is not visible; reading My Numbers needs onshikaku_number_handler; partitions are no route)'
\set ON_ERROR_STOP 0
SELECT my_number FROM qualification;
SELECT format('SELECT count(*) FROM onshikaku.qualification_%s', :kokuho) AS q \gset
:q;
\set ON_ERROR_STOP 1
RESET ROLE;
