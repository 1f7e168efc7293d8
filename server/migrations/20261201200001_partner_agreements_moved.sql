-- The agreements nested in partners (`trade_partners.agreements`) become agreement records.
-- Nothing is lost: the title, the type (as the kind) and the description are copied; the
-- partner becomes the party (Korea is implied); a signature date becomes a SIGNED event and
-- an entry-into-force date an ENTERED_INTO_FORCE event; the old status, which events cannot
-- always express (no date, or UNDER_REVIEW), is kept in the label `status-before-events`.
-- Ids are `{partner}-{title slug}` (`-2`, `-3` … when two would be equal). Agreements of
-- soft-deleted partners move too. The partner rows keep no inline agreements afterwards.

WITH src AS (
    SELECT p.id AS partner, a.elem, a.ord,
           trim(both '-' from lower(regexp_replace(coalesce(a.elem->>'title', ''), '[^A-Za-z0-9]+', '-', 'g'))) AS slug
      FROM trade_partners p, jsonb_array_elements(p.agreements) WITH ORDINALITY AS a(elem, ord)
), named AS (
    SELECT src.*, rtrim(left(partner || '-' || coalesce(nullif(slug, ''), 'agreement'), 55), '-') AS base
      FROM src
), numbered AS (
    SELECT named.*, row_number() OVER (PARTITION BY base ORDER BY partner, ord) AS n
      FROM named
), moved AS (
    SELECT numbered.*,
           (SELECT coalesce(jsonb_agg(e ORDER BY o), '[]'::jsonb) FROM (VALUES
                (1, CASE WHEN jsonb_typeof(elem->'signature_date') = 'object'
                         THEN jsonb_build_object('kind', 'SIGNED', 'date', elem->'signature_date') END),
                (2, CASE WHEN jsonb_typeof(elem->'entry_into_force_date') = 'object'
                         THEN jsonb_build_object('kind', 'ENTERED_INTO_FORCE', 'date', elem->'entry_into_force_date') END)
            ) AS v(o, e) WHERE e IS NOT NULL) AS events
      FROM numbered
)
INSERT INTO agreements (id, title, kind, parties, events, status, description, labels, create_time, update_time)
SELECT CASE WHEN n = 1 THEN base ELSE base || '-' || n END,
       coalesce(nullif(elem->>'title', ''), 'Agreement'),
       CASE WHEN elem->>'type' IN ('FTA', 'CEPA', 'TARIFF_ARRANGEMENT', 'MOU', 'OTHER') THEN elem->>'type' ELSE 'OTHER' END,
       ARRAY[partner],
       events,
       CASE WHEN jsonb_typeof(elem->'entry_into_force_date') = 'object' THEN 'IN_FORCE'
            WHEN jsonb_typeof(elem->'signature_date') = 'object' THEN 'SIGNED' END,
       coalesce(elem->>'description', ''),
       CASE WHEN coalesce(elem->>'status', '') <> ''
            THEN jsonb_build_object('status-before-events', lower(elem->>'status'))
            ELSE '{}'::jsonb END,
       now(), now()
  FROM moved;

-- Each moved agreement starts its history with a CREATED change by `system`, with the
-- snapshot the server would write (so history, read_time and the change feed see it), under
-- the change log's shared lock like every other append (store::append).
SELECT pg_advisory_xact_lock_shared(125779852197889);
INSERT INTO change_log (sequence, resource_type, resource_name, change_kind, actor, snapshot)
SELECT nextval('change_log_sequence'), 'motie.registry.v1.TradeAgreement', 'agreements/' || a.id, 'CREATED', 'system',
       jsonb_build_object(
           'id', a.id, 'title', a.title, 'title_ko', a.title_ko, 'kind', a.kind, 'parties', to_jsonb(a.parties),
           'events', a.events, 'description', a.description, 'source', a.source, 'labels', a.labels,
           'create_time', to_char(a.create_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'update_time', to_char(a.update_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'delete_time', NULL, 'expire_time', NULL, 'revision', a.revision)
  FROM agreements a
 ORDER BY a.id;

UPDATE trade_partners SET agreements = '[]' WHERE agreements <> '[]';
