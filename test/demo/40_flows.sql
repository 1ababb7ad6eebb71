-- Demo, part 4: the flows end to end, each called as the role that would call it in production.
--
-- No My Number is printed except in the PMH-ID answer, which echoes the number it received by
-- design; no blind index, ciphertext or agency code is printed.  The generated My Numbers live
-- in temporary tables only, gone when this part ends.
\set ECHO none
SET search_path = onshikaku, public;
SELECT setseed(0.2024);   -- the same generated people on every run (issued numbers stay random)

\echo
\echo '== 13. Roles: an operator, an insurer clerk, the OQS (オンライン資格確認) and the PMH gateway =='
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('demo_operator', 'onshikaku_admin'),
        ('demo_osaka_clerk', 'onshikaku_insurer, onshikaku_number_handler'),
        ('demo_oqs', 'onshikaku_oqs_feed'),
        ('demo_pmh', 'onshikaku_pmh_gateway')) v(name, member_of) LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN IN ROLE %s', r.name, r.member_of);
        END IF;
    END LOOP;
END $$;
SELECT r.rolname AS role, string_agg(g.rolname, ', ' ORDER BY g.rolname) AS "member of"
FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid
WHERE r.rolname LIKE 'demo\_%' AND r.rolname <> 'demo_kyokai_clerk' GROUP BY r.rolname ORDER BY r.rolname;

\echo
\echo '== 14. The operator registers five insurers (医療保険者等) in Osaka and maps the clerk to them =='
SET ROLE demo_operator;
SELECT register_insurer('01270016', '全国健康保険協会 大阪支部', 'kyokai_kenpo') AS kyokai,
       register_insurer('06271233', 'デモ大阪健康保険組合', 'kenpo_kumiai') AS kumiai,
       register_insurer('270108', '大阪市 国民健康保険', 'shichoson_kokuho') AS kokuho,
       register_insurer('39270012', '大阪府後期高齢者医療広域連合', 'koki_koreisha') AS koki,
       register_insurer(NULL, '大阪市北区 福祉事務所', 'seikatsu_hogo', '12270013') AS hogo \gset
\o /dev/null
SELECT grant_insurer('demo_osaka_clerk', i) FROM unnest(ARRAY[:kyokai, :kumiai, :kokuho, :koki, :hogo]) i;
\o
SELECT i.insurer_id, coalesce(i.insurer_number::text, '公費 ' || i.public_payer_number) AS "保険者番号",
       i.name, c.name_ja AS kind
FROM insurer i JOIN insurer_kind_capability c USING (kind) JOIN insurer_role r USING (insurer_id)
WHERE r.role_name = 'demo_osaka_clerk'::regrole ORDER BY insurer_id;
-- the 協会けんぽ 東京支部 of part 3, which the clerk does not serve (section 20)
SELECT insurer_id AS tokyo FROM insurer WHERE insurer_number OPERATOR(onshikaku.=) '01130012' \gset
RESET ROLE;

\echo
\echo '== 15. Enrolment (資格取得): a few thousand generated people, as demo_osaka_clerk =='
-- households: 40% 協会けんぽ, 25% 健保組合 (本人 + 家族 on one card), 20% 国保 (every member
-- insured, one card per household), 15% 後期高齢者 (one card each); plus 20 生活保護 recipients
CREATE TEMP TABLE household AS
SELECT h, CASE WHEN h % 20 < 8 THEN 'kyokai' WHEN h % 20 < 13 THEN 'kumiai'
               WHEN h % 20 < 17 THEN 'kokuho' ELSE 'koki' END AS kind,
       (ARRAY['佐藤','鈴木','高橋','田中','伊藤','渡辺','山本','中村','小林','加藤','吉田','山田'])[1 + floor(random() * 12)::int] AS family,
       date '2012-04-01' + floor(random() * 3000)::int AS since,
       1 + floor(random() * 4)::int AS size
FROM generate_series(1, 1300) h;
UPDATE household SET size = 1 + (size > 2)::int WHERE kind = 'koki';
CREATE TEMP TABLE people AS
SELECT row_number() OVER (ORDER BY h.h, m) AS person_no, h.h AS household, m AS member, h.kind,
       h.family, s.sex,
       (CASE WHEN s.sex = 1 THEN ARRAY['太郎','翔','大輝','健一','浩二','蓮','悠真','誠']
             ELSE ARRAY['花子','陽菜','結衣','美咲','さくら','由美','恵子','葵'] END)[1 + floor(random() * 8)::int] AS given,
       b.birth_date,
       greatest(h.since, b.birth_date) AS acquired_on,
       CASE WHEN h.kind IN ('kyokai', 'kumiai') AND m > 1 THEN 2 ELSE 1 END::smallint AS iod,
       CASE h.kind WHEN 'kyokai' THEN '27010' WHEN 'kumiai' THEN '12' END AS card_symbol,
       CASE WHEN h.kind = 'koki' THEN lpad((h.h * 10 + m)::text, 8, '0') ELSE lpad(h.h::text, 7, '0') END AS card_number,
       '大阪府大阪市北区梅田' || (1 + h.h % 3) || '-' || (1 + h.h % 17) || '-' || h.h AS address,
       '530' || lpad((h.h % 10000)::text, 4, '0') AS postcode,
       NULL::text AS my_number,
       NULL::bigint AS qualification_id, NULL::insured_branch_number AS ibn, NULL::link_number AS link,
       NULL::card_branch_number AS card_branch, NULL::boolean AS reused
FROM household h
CROSS JOIN LATERAL generate_series(1, h.size) m
CROSS JOIN LATERAL (SELECT CASE WHEN m = 1 THEN 1 + h.h % 2 WHEN m = 2 THEN 2 - h.h % 2
                                ELSE 1 + (random() < 0.5)::int END::smallint AS sex) s
CROSS JOIN LATERAL (SELECT CASE WHEN h.kind = 'koki' THEN date '1932-01-01' + floor(random() * 6500)::int
                                WHEN m <= 2 THEN date '1958-01-01' + floor(random() * 12000)::int
                                ELSE date '2000-01-01' + floor(random() * 7300)::int END AS birth_date) b;
-- (a household's children are born after its adults: adults 1958-1990, children 2000-2019)
-- valid My Numbers: 11 random digits and the check digit (weights 6,5,4,3,2,7,6,5,4,3,2; r = sum
-- mod 11; 0 if r <= 1, else 11 - r); 30 spares for later sections
CREATE TEMP TABLE numbers AS
SELECT row_number() OVER () AS k, body || CASE WHEN r <= 1 THEN 0 ELSE 11 - r END AS n
FROM (SELECT body, (SELECT sum(substr(body, i, 1)::int * (ARRAY[6,5,4,3,2,7,6,5,4,3,2])[i]) FROM generate_series(1, 11) i) % 11 AS r
      FROM (SELECT DISTINCT lpad(floor(random() * 1e11)::bigint::text, 11, '0') AS body
            FROM generate_series(1, (SELECT count(*) FROM people) + 30)) d) x;
UPDATE people p SET my_number = n.n FROM numbers n WHERE n.k = p.person_no;
SELECT count(*) AS "My Numbers generated", bool_and(my_number_is_valid(n)) AS "all valid",
       count(DISTINCT n) = count(*) AS "all distinct" FROM numbers;
GRANT SELECT, UPDATE ON people TO demo_osaka_clerk;
GRANT SELECT ON household, numbers TO demo_osaka_clerk;

SET ROLE demo_osaka_clerk;
\echo 'every person enrolled with one enroll_member() call (My Number encrypted, blind index, numbers issued):'
\timing on
WITH e AS MATERIALIZED (
    SELECT p.person_no,
           enroll_member(CASE p.kind WHEN 'kyokai' THEN :kyokai WHEN 'kumiai' THEN :kumiai
                                     WHEN 'kokuho' THEN :kokuho ELSE :koki END,
                         p.my_number::my_number, p.card_number, p.acquired_on, p.birth_date,
                         card_symbol => p.card_symbol, insured_or_dependent => p.iod,
                         name_on_card => p.family || '　' || p.given, sex => p.sex, address => p.address,
                         postcode => p.postcode, municipality_code => '27127',
                         insured_person_name => (SELECT q.family || '　' || q.given FROM people q
                                                 WHERE q.household = p.household AND q.member = 1),
                         copay_ratio => CASE WHEN p.kind = 'koki' THEN 10 ELSE 30 END::smallint) AS r
    FROM people p ORDER BY p.person_no)
UPDATE people p SET qualification_id = (e.r).qualification_id, ibn = (e.r).insured_branch_number,
       link = (e.r).link_number, card_branch = (e.r).card_branch, reused = (e.r).reused_insured_branch_number
FROM e WHERE e.person_no = p.person_no;
\timing off
\echo 'each card (保険者, 記号, 番号) numbers its people 00, 01, 02, …: 00 for the insured person (本人), 01+ for dependents;'
\echo 'in 国保 every member is insured, so the first gets 00 and the others the lowest free value'
SELECT kind, count(*) AS people, count(DISTINCT household) AS households,
       count(*) FILTER (WHERE card_branch::text = '00') AS "枝番 00",
       count(*) FILTER (WHERE card_branch::text = '01') AS "枝番 01",
       count(*) FILTER (WHERE card_branch::text = '02') AS "枝番 02",
       count(*) FILTER (WHERE card_branch::text = '03') AS "枝番 03",
       count(DISTINCT ibn) AS "被保険者枝番 (distinct)", count(DISTINCT link) AS "紐付番号 (distinct)"
FROM people GROUP BY kind ORDER BY min(household % 20);
\echo 'one 健保組合 household, read back from the qualification table (row-level security: acting insurer set):'
SET onshikaku.acting_insurer = :kumiai;
SELECT q.name_on_card AS "氏名", q.insured_or_dependent AS "本人1/家族2", q.card_symbol AS "記号",
       q.card_number AS "番号", q.card_branch AS "枝番", q.insured_branch_number AS "被保険者枝番", q.acquired_on AS "資格取得"
FROM qualification q
WHERE q.qualification_id IN (SELECT qualification_id FROM people
                             WHERE household = (SELECT min(h) FROM household WHERE kind = 'kumiai' AND size = 4))
ORDER BY q.card_branch;
RESET onshikaku.acting_insurer;

\echo '20 生活保護 recipients: the body has no 保険者番号, its "card" is the 受給者番号 (My Numbers under the national key)'
RESET ROLE;
CREATE TEMP TABLE welfare AS
SELECT w, n.n AS my_number, date '1950-01-01' + floor(random() * 15000)::int AS birth_date,
       (SELECT b || d FROM generate_series(0, 9) d WHERE recipient_number_is_valid(b || d)) AS recipient,
       NULL::bigint AS qualification_id, NULL::insured_branch_number AS ibn, NULL::link_number AS link
FROM generate_series(1, 20) w CROSS JOIN LATERAL (SELECT (200000 + w * 37)::text AS b) x
JOIN numbers n ON n.k = (SELECT count(*) FROM people) + w;
GRANT SELECT, UPDATE ON welfare TO demo_osaka_clerk;
SET ROLE demo_osaka_clerk;
WITH e AS MATERIALIZED (
    SELECT w, enroll_member(:hogo, my_number::my_number, NULL, date '2021-04-01', birth_date,
                            recipient_number => recipient::recipient_number, name_on_card => '生活保護 受給者' || w) AS r
    FROM welfare ORDER BY w)
UPDATE welfare x SET qualification_id = (e.r).qualification_id, ibn = (e.r).insured_branch_number, link = (e.r).link_number
FROM e WHERE e.w = x.w;
SET onshikaku.acting_insurer = :hogo;
SELECT count(*) AS "生活保護 qualifications", min(card_number) AS "first 受給者番号 (as 番号)",
       min(public_payer_number::text) AS "公費負担者番号"
FROM qualification;
RESET onshikaku.acting_insurer;

\echo
\echo '== 16. Changes (資格変更), losses (資格喪失), re-enrolment and a move to another insurer =='
\echo 'address change of 100 健保組合 members (record_change): 履歴通番 goes up, the change date is kept'
SELECT count(record_change(:kumiai, qualification_id,
                           jsonb_build_object('address', '大阪府吹田市江坂町1-' || person_no, 'postcode', '5640063'),
                           date '2024-06-01')) AS "changes recorded"
FROM (SELECT * FROM people WHERE kind = 'kumiai' AND household % 20 = 10 ORDER BY person_no LIMIT 100) p;
SET onshikaku.acting_insurer = :kumiai;
SELECT history_seq AS "履歴通番", count(*) AS people, min(address_changed_on) AS "住所変更日", min(postcode) AS "郵便番号"
FROM qualification GROUP BY history_seq ORDER BY history_seq;
RESET onshikaku.acting_insurer;
\echo 'every member of 1 健保組合 household in 5 loses the qualification on 2024-04-01 (the first day without it):'
SELECT count(record_loss(:kumiai, qualification_id, date '2024-04-01', 1::smallint)) AS "losses recorded"
FROM people WHERE kind = 'kumiai' AND household % 20 = 8;
\echo 'half of them come back to the same insurer on 2024-10-01, with the same card: the same 被保険者枝番 and 枝番 back'
CREATE TEMP TABLE back AS
SELECT p.person_no, p.ibn AS old_ibn, p.card_branch AS old_branch,
       enroll_member(:kumiai, p.my_number::my_number, p.card_number, date '2024-10-01', p.birth_date,
                     card_symbol => p.card_symbol, insured_or_dependent => p.iod,
                     name_on_card => p.family || '　' || p.given, sex => p.sex, address => p.address,
                     postcode => p.postcode, copay_ratio => 30::smallint) AS r
FROM people p WHERE p.kind = 'kumiai' AND p.household % 40 = 8 ORDER BY p.person_no DESC;   -- dependents first
SELECT count(*) AS "re-enrolled", count(*) FILTER (WHERE (r).reused_insured_branch_number) AS "reused 被保険者枝番",
       count(*) FILTER (WHERE (r).insured_branch_number = old_ibn) AS "same 被保険者枝番",
       count(*) FILTER (WHERE (r).card_branch = old_branch) AS "same 枝番"
FROM back;
\echo 'the other half moves to 協会けんぽ on 2024-04-01: a new 被保険者枝番 there, the same 紐付番号 (national)'
CREATE TEMP TABLE moved AS
SELECT p.person_no, p.ibn AS old_ibn, p.link AS old_link,
       enroll_member(:kyokai, p.my_number::my_number, 'M' || p.card_number, date '2024-04-01', p.birth_date,
                     card_symbol => '27010', insured_or_dependent => p.iod,
                     name_on_card => p.family || '　' || p.given) AS r
FROM people p WHERE p.kind = 'kumiai' AND p.household % 40 = 28 ORDER BY p.person_no;
SELECT count(*) AS moved, count(*) FILTER (WHERE NOT (r).reused_insured_branch_number) AS "new 被保険者枝番",
       count(*) FILTER (WHERE (r).insured_branch_number <> old_ibn) AS "differs from the old one",
       count(*) FILTER (WHERE (r).link_number = old_link) AS "same 紐付番号"
FROM moved;
\echo 'a 枝番 is never given to a second person: a child (枝番 02) leaves a 協会けんぽ family, then a baby is born:'
SELECT household AS fam_h, qualification_id AS leaver_qid FROM people
WHERE kind = 'kyokai' AND member = 3 AND household IN (SELECT h FROM household WHERE size = 3)
ORDER BY person_no LIMIT 1 \gset
\o /dev/null
SELECT record_loss(:kyokai, :leaver_qid, date '2024-04-01', 1::smallint);
\o
SELECT (SELECT string_agg(q.card_branch::text || CASE WHEN q.member = 3 THEN ' (lost)' ELSE '' END, ', '
                          ORDER BY q.card_branch) FROM people q WHERE q.household = p.household) AS "the family's 枝番",
       (enroll_member(:kyokai, (SELECT n FROM numbers WHERE k = (SELECT count(*) FROM people) + 21)::my_number,
                      p.card_number, date '2024-05-01', date '2024-05-01', card_symbol => p.card_symbol,
                      insured_or_dependent => 2::smallint, name_on_card => p.family || '　蓮')).card_branch AS "the baby's 枝番"
FROM people p WHERE p.household = :fam_h AND p.member = 1;
RESET ROLE;
GRANT SELECT ON back, moved TO demo_osaka_clerk, demo_pmh;

\echo
\echo '== 17. Confirmation (オンライン資格確認) as demo_oqs: by card, and by link number (the マイナンバーカード path) =='
-- the cases (picked as postgres: card items, birth dates and link numbers, no My Number)
SELECT p.card_number AS ok_number, p.birth_date AS ok_birth, p.qualification_id AS ok_qid, p.ibn AS ok_ibn,
       p.link AS ok_link, p.person_no AS ok_no
FROM people p WHERE kind = 'kyokai' AND member = 1 ORDER BY person_no LIMIT 1 \gset
SELECT p.card_number AS lost_number, p.card_branch AS lost_branch, p.birth_date AS lost_birth
FROM people p WHERE kind = 'kumiai' AND household % 40 = 28 ORDER BY person_no LIMIT 1 \gset
SELECT p.card_number AS back_number, p.card_branch AS back_branch, p.birth_date AS back_birth
FROM people p JOIN back b USING (person_no) ORDER BY person_no LIMIT 1 \gset
SELECT p.card_number AS dv_number, p.birth_date AS dv_birth, p.qualification_id AS dv_qid, p.ibn AS dv_ibn
FROM people p WHERE kind = 'kokuho' AND member = 1 ORDER BY person_no LIMIT 1 \gset
SELECT p.link AS mv_link, p.birth_date AS mv_birth FROM people p JOIN moved USING (person_no) ORDER BY person_no LIMIT 1 \gset
SELECT link AS hogo_link, birth_date AS hogo_birth, ibn AS hogo_ibn FROM welfare WHERE w = 1 \gset
SELECT n AS spare_number FROM numbers WHERE k = (SELECT count(*) FROM people) + 22 \gset
SET ROLE demo_osaka_clerk;
\echo 'the clerk adds a 限度額適用認定証 (区分 ウ) to one person, flags one 国保 member for DV support (DV等支援措置),'
\echo 'and enrols one person from two weeks ahead:'
SELECT add_certificate(:kyokai, :ok_qid, 'limit_certificate', date '2024-04-01',
                       applicable_class => 'ウ') IS NOT NULL AS "限度額適用認定証 added",
       record_change(:kokuho, :dv_qid, '{"dv_nondisclosure": true}', date '2024-06-01') AS "DV flag (履歴通番)",
       (enroll_member(:kyokai, :'spare_number', '9000001', current_date + 14, date '1999-09-09',
                      card_symbol => '27010', name_on_card => '新入　社員')).card_branch AS "future member's 枝番";
RESET ROLE;
SET ROLE demo_oqs;
SELECT c.label AS "case", r.status, r.insurer_number AS "保険者番号",
       concat_ws('/', coalesce(r.card_symbol, '-'), r.card_number, r.card_branch) AS "記号/番号/枝番",
       r.name_on_card AS "氏名", r.acquired_on AS "取得", r.lost_on AS "喪失", r.address AS "住所",
       r.nondisclosure AS "DV", r.copay_ratio AS "割合", r.limit_applicable_class AS "限度額区分",
       r.consent_items_withheld AS "同意項目 withheld"
FROM (VALUES
    (1, 'qualified, no consent',     '01270016', '27010', :'ok_number', '00', :'ok_birth'::date, current_date, false),
    (2, 'qualified, consent given',  '01270016', '27010', :'ok_number', '00', :'ok_birth'::date, current_date, true),
    (3, 'wrong birth date',          '01270016', '27010', :'ok_number', '00', :'ok_birth'::date + 1, current_date, false),
    (4, 'lost (moved away)',         '06271233', '12', :'lost_number', :'lost_branch', :'lost_birth'::date, current_date, false),
    (5, 're-enrolled: in the gap',   '06271233', '12', :'back_number', :'back_branch', :'back_birth'::date, date '2024-06-01', false),
    (6, 're-enrolled: today',        '06271233', '12', :'back_number', :'back_branch', :'back_birth'::date, current_date, false),
    (7, 'DV: address withheld',      '270108', NULL, :'dv_number', '00', :'dv_birth'::date, current_date, false),
    (8, 'starts in two weeks',       '01270016', '27010', '9000001', '00', date '1999-09-09', current_date, false),
    (9, 'no such card',              '01270016', '27010', '0000000', '00', :'ok_birth'::date, current_date, false)
) c(k, label, ins, sym, num, br, birth, on_date, consent)
CROSS JOIN LATERAL confirm_qualification(c.ins::insurer_number, c.sym, c.num, c.br::card_branch_number, c.birth, c.on_date, c.consent) r
ORDER BY c.k;
\echo 'by link number (紐付番号): every qualification valid on the date, across insurers'
SELECT c.label AS "case", r.status,
       CASE WHEN r.status = 'qualified' THEN coalesce(r.insurer_number::text, '(生活保護: none)') END AS "保険者番号",
       concat_ws('/', coalesce(r.card_symbol, '-'), r.card_number, r.card_branch) AS "記号/番号/枝番", r.acquired_on AS "取得"
FROM (VALUES (1, 'moved person, 2024-03-01', :'mv_link', :'mv_birth'::date, date '2024-03-01'),
             (2, 'moved person, today', :'mv_link', :'mv_birth'::date, current_date),
             (3, 'moved person, wrong birth date', :'mv_link', :'mv_birth'::date - 1, current_date),
             (4, '生活保護 recipient, today', :'hogo_link', :'hogo_birth'::date, current_date)
) c(k, label, link, birth, on_date)
CROSS JOIN LATERAL confirm_qualification_by_link(c.link::link_number, c.birth, c.on_date) r
ORDER BY c.k;
RESET ROLE;

\echo
\echo '== 18. PMH-ID (Public Medical Hub) issuance as demo_pmh: the answer echoes the My Number it received =='
GRANT SELECT ON people, numbers TO demo_pmh;
SET ROLE demo_pmh;
SELECT 'first request' AS "request", a.* FROM issue_pmh_id((SELECT my_number FROM people WHERE person_no = :ok_no)) a
UNION ALL
SELECT 'again', a.* FROM issue_pmh_id((SELECT my_number FROM people WHERE person_no = :ok_no)) a
UNION ALL
SELECT 'never enrolled', a.* FROM issue_pmh_id((SELECT n FROM numbers WHERE k = (SELECT count(*) FROM people) + 23)) a;
\echo '500 more requests (counts only):'
SELECT (issue_pmh_id(my_number)).outcome, count(*)
FROM (SELECT my_number FROM people WHERE person_no % 5 = 0 ORDER BY person_no LIMIT 500) x GROUP BY 1 ORDER BY 1;
RESET ROLE;
SELECT (SELECT count(*) FROM pmh_issuance_log) AS "pmh_issuance_log rows (紐付番号, PMH-ID)",
       (SELECT count(DISTINCT pmh_id) FROM person) AS "distinct PMH-IDs",
       (SELECT count(*) FROM qualification WHERE pmh_id IS NOT NULL) AS "qualification rows carrying one (OQS feed)";

\echo
\echo '== 19. Agency codes (機関別符号), copies (副本) and provision through the network (情報提供, simulated) =='
SET ROLE demo_osaka_clerk;
SELECT count(record_agency_code(i, ibn, 'AC-' || md5(link::text || i))) AS "agency codes recorded"
FROM (SELECT CASE kind WHEN 'kyokai' THEN :kyokai ELSE :kumiai END AS i, ibn, link FROM people
      WHERE kind IN ('kyokai', 'kumiai')
      UNION ALL SELECT :kyokai, (r).insured_branch_number, (r).link_number FROM moved) x;
RESET ROLE;
SELECT (SELECT count(*) FROM agency_code) AS "agency_code rows (one per person)",
       (SELECT count(*) FROM agency_code_link) AS "agency_code_link rows (per insurer)",
       (SELECT count(*) FROM (SELECT link_number FROM agency_code_link GROUP BY 1 HAVING count(*) > 1) x) AS "people linked from 2 insurers";
\echo 'the operator allows one (事務, 手続, 特定個人情報) combination (番号法 別表第二, simulated):'
SET ROLE demo_operator;
INSERT INTO provision_allow_list VALUES
    ('国民年金法による年金である給付の支給に関する事務', '障害基礎年金の裁定請求', '医療保険給付関係情報');
RESET ROLE;
SELECT p.ibn AS held_ibn, p.link AS held_link FROM people p WHERE kind = 'kyokai' AND member = 1 ORDER BY person_no OFFSET 1 LIMIT 1 \gset
SELECT p.link AS nocopy_link FROM people p WHERE kind = 'kyokai' AND member = 1 ORDER BY person_no OFFSET 2 LIMIT 1 \gset
SET ROLE demo_osaka_clerk;
\o /dev/null
SELECT put_copy(:kyokai, :'ok_ibn', '医療保険給付関係情報', '{"資格": "被保険者", "高額療養費": [{"年月": "2024-05", "支給額": 41200}]}'),
       put_copy(:kyokai, :'held_ibn', '医療保険給付関係情報', '{"資格": "被保険者"}', no_auto_response => true);
\o
SELECT c.label AS "request", a.outcome, a.content
FROM (VALUES (1, 'allowed, copy held', :'ok_link', '障害基礎年金の裁定請求', 'NP-0001'),
             (2, 'allowed, 自動応答不可', :'held_link', '障害基礎年金の裁定請求', 'NP-0002'),
             (3, 'not on the allow-list', :'ok_link', '地方税の賦課徴収', 'NP-0003'),
             (4, 'allowed, no copy', :'nocopy_link', '障害基礎年金の裁定請求', 'NP-0004')) c(k, label, link, proc, serial)
CROSS JOIN LATERAL provide_information(:kyokai, c.link::link_number, '国民年金法による年金である給付の支給に関する事務',
                                       c.proc, '医療保険給付関係情報', '大阪市 年金課', c.serial) a
ORDER BY c.k;
\echo 'an inquiry the insurer makes (情報照会), recorded in the same log:'
\o /dev/null
SELECT record_inquiry(:kyokai, :'ok_ibn', '健康保険法による保険給付の支給に関する事務', '高額療養費の支給',
                      '地方税関係情報', '大阪市 税務課', 'NQ-0001');
\o
\echo 'provision_log (情報提供等記録) as the clerk, without the agency_code column:'
SET onshikaku.acting_insurer = :kyokai;
SELECT provision_id AS id, direction, processing_serial AS "処理通番", procedure_name AS "事務手続",
       inquirer_department AS "照会者", provider_department AS "提供者", provided_at IS NOT NULL AS provided,
       item_name AS "特定個人情報", nondisclosure_code AS "不開示"
FROM provision_log ORDER BY provision_id;
RESET onshikaku.acting_insurer;
RESET ROLE;

\echo
\echo '== 20. Identity checks (本人確認, answered by J-LIS, simulated): request, result, delivery =='
SELECT n AS ic_number FROM numbers WHERE k = (SELECT count(*) FROM people) + 24 \gset
SET ROLE demo_osaka_clerk;
SELECT request_identity_check(:kyokai, 'basic4', my_number => (SELECT my_number FROM people WHERE person_no = :ok_no)::my_number,
                              use_reason => '資格取得届の確認') AS chk_b4,
       request_identity_check(:kyokai, 'my_number', name => '大阪　花子', birth_date => date '1985-03-03',
                              sex => 2::smallint, address => '大阪府大阪市北区梅田1-1-1') AS chk_mn \gset
SET onshikaku.acting_insurer = :kyokai;
SELECT check_id, request_kind, name, answered_at IS NOT NULL AS answered FROM identity_check ORDER BY check_id;
\o /dev/null
SELECT record_identity_check_result(:kyokai, :chk_b4, name => '佐藤　太郎', birth_date => date '1970-01-01',
                                    sex => 1::smallint, address => '大阪府大阪市北区梅田2-2-2', alive_status => '生存'),
       record_identity_check_result(:kyokai, :chk_mn, my_number => :'ic_number');
\o
\echo 'delivered (a delivered My Number is revealed and logged; here only whether one came):'
SELECT d.check_id, d.request_kind, d.name, d.birth_date, d.sex, d.address, d.alive_status,
       my_number_is_valid(d.my_number) AS "My Number delivered"
FROM (SELECT * FROM deliver_identity_check(:kyokai, :chk_b4)
      UNION ALL SELECT * FROM deliver_identity_check(:kyokai, :chk_mn)) d;
SELECT count(*) AS "identity_check rows left (deleted on delivery)" FROM identity_check;
RESET onshikaku.acting_insurer;
RESET ROLE;
\echo 'the reveal of the delivered My Number left an access-log row (the number itself is never logged);'
\echo 'acting_role names the clerk who asked (SET ROLE), not the flow''s owner; session_role is the login role:'
SELECT session_role, acting_role, record_ref, access_purpose FROM access_log WHERE access_purpose = 'identity check delivery';

\echo
\echo '== 21. マイナポータル link information (myportal_link), as the clerk =='
SET ROLE demo_osaka_clerk;
SELECT 'kyokai member' AS "person", m.* FROM myportal_link(:kyokai, :'ok_ibn') m
UNION ALL SELECT '国保 member', m.* FROM myportal_link(:kokuho, :'dv_ibn') m
UNION ALL SELECT '生活保護 recipient', m.* FROM myportal_link(:hogo, :'hogo_ibn') m
UNION ALL SELECT 'kyokai member, 2010-01-01', m.* FROM myportal_link(:kyokai, :'ok_ibn', date '2010-01-01') m;
\echo '(no row for a date without qualification)'
RESET ROLE;

\echo
\echo '== 22. Bad input is refused with its SQLSTATE, nothing written, no personal number in the message =='
CREATE FUNCTION pg_temp.refused(stmt text, OUT state text, OUT message text) LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    state := '(none)';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END $$;
SELECT n AS bad_input_number FROM numbers WHERE k = (SELECT count(*) FROM people) + 25 \gset
SELECT format('SELECT enroll_member(%s, my_number::my_number, card_number, %L, birth_date, card_symbol => card_symbol) FROM people WHERE person_no = %s',
              :kyokai, '2024-06-01', :ok_no) AS overlap,
       format('SELECT enroll_member(999999, %L, %L, %L, %L)', :'bad_input_number', '1', '2024-04-01', '1980-01-01') AS unknown,
       format('SELECT enroll_member(%s, %L, %L, %L, %L)', :tokyo, :'bad_input_number', '1', '2024-04-01', '1980-01-01') AS not_served,
       format('SELECT enroll_member(%s, %L, %L, %L, %L)', :kyokai, :'bad_input_number', '1', '1979-04-01', '1980-01-01') AS before_birth,
       format('SELECT enroll_member(%s, %L, %L, %L, %L)', :kyokai, '123456789019', '1', '2024-04-01', '1980-01-01') AS bad_number,
       format('SELECT put_copy(%s, %L, %L, %L)', :kokuho, :'dv_ibn', '医療保険給付関係情報', '{}') AS no_nws,
       format('SELECT issue_pmh_id(%L)', :'bad_input_number') AS not_gateway \gset
SET ROLE demo_osaka_clerk;
SELECT c.label AS "case (as demo_osaka_clerk)", r.state AS "SQLSTATE", r.message
FROM (VALUES (1, 'overlapping enrolment', :'overlap'),
             (2, 'unknown insurer', :'unknown'),
             (3, 'insurer the role does not serve (東京)', :'not_served'),
             (4, 'acquired_on before birth_date', :'before_birth'),
             (5, 'invalid My Number (check digit)', :'bad_number'),
             (6, '副本 for a 市町村国保 (no NWS provision)', :'no_nws'),
             (7, 'a clerk asking for a PMH-ID', :'not_gateway')) c(k, label, stmt)
CROSS JOIN LATERAL pg_temp.refused(c.stmt) r ORDER BY c.k;
RESET ROLE;
SELECT count(*) AS "people (person rows)", (SELECT count(*) FROM qualification) AS "qualification rows",
       (SELECT count(*) FROM registration_zone) AS "registration_zone rows",
       (SELECT count(*) FROM card_branch_issue) AS "card_branch_issue rows"
FROM person;
