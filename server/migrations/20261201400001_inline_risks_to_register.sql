-- The inline risk lists of goals and partners (`risks` jsonb arrays, now deprecated) become
-- entries of the risk register, without loss: one entry per distinct (category, title),
-- linked to every goal and partner (live or soft-deleted) that carried it. The entry keeps
-- the title and category; its description is the copies' distinct non-empty descriptions
-- (joined by a blank line, in goal-then-partner, id order); a severity the copies gave is kept
-- in the label `inline-severity` (distinct values, lower case, joined by `-`); the label
-- `migrated` = `inline-risks` marks the entry's origin. Ids are `inline-` and a hash of the
-- category and title, so the migration is deterministic. The inline lists are left as they
-- are, readable by old clients.
WITH copies AS (
    SELECT 0 AS side, g.id AS owner, r.ord, r.risk
      FROM policy_goals g, jsonb_array_elements(g.risks) WITH ORDINALITY AS r(risk, ord)
    UNION ALL
    SELECT 1, p.id, r.ord, r.risk
      FROM trade_partners p, jsonb_array_elements(p.risks) WITH ORDINALITY AS r(risk, ord)
), keyed AS (
    SELECT side, owner, ord,
           coalesce(risk->>'category', 'OTHER') AS category,
           risk->>'title' AS title,
           coalesce(risk->>'description', '') AS description,
           lower(risk->>'severity') AS severity
      FROM copies
     WHERE coalesce(risk->>'title', '') <> ''
), descriptions AS (
    SELECT category, title, string_agg(description, E'\n\n' ORDER BY first_side, first_owner) AS description
      FROM (SELECT category, title, description, min(side) AS first_side, min(owner) AS first_owner
              FROM keyed WHERE description <> '' GROUP BY category, title, description) d
     GROUP BY category, title
), grouped AS (
    SELECT category, title,
           array_agg(DISTINCT owner ORDER BY owner) FILTER (WHERE side = 0) AS goals,
           array_agg(DISTINCT owner ORDER BY owner) FILTER (WHERE side = 1) AS partners,
           string_agg(DISTINCT severity, '-' ORDER BY severity) AS severity
      FROM keyed
     GROUP BY category, title
)
INSERT INTO risks (id, title, category, description, labels, goals, partners, create_time, update_time)
SELECT 'inline-' || substr(md5(g.category || chr(31) || g.title), 1, 16),
       g.title,
       g.category,
       left(coalesce(d.description, ''), 4000),
       jsonb_build_object('migrated', 'inline-risks')
         || CASE WHEN g.severity IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('inline-severity', g.severity) END,
       coalesce(g.goals, '{}'),
       coalesce(g.partners, '{}'),
       now(),
       now()
  FROM grouped g
  LEFT JOIN descriptions d ON d.category = g.category AND d.title = g.title;

-- Each new entry's creation is in the change log (actor `system`), with the snapshot the
-- server writes for a risk, so its history and reads at a past `read_time` start here.
INSERT INTO change_log (sequence, resource_type, resource_name, change_kind, actor, snapshot)
SELECT nextval('change_log_sequence'), 'motie.registry.v1.RiskEntry', 'risks/' || r.id, 'CREATED', 'system',
       jsonb_build_object(
           'id', r.id, 'title', r.title, 'title_ko', r.title_ko, 'category', r.category,
           'description', r.description, 'likelihood', r.likelihood, 'impact', r.impact,
           'owner_organization', r.owner_organization, 'mitigation', r.mitigation, 'state', NULL,
           'source', r.source, 'labels', r.labels, 'goals', to_jsonb(r.goals),
           'partners', to_jsonb(r.partners),
           'create_time', to_char(r.create_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'update_time', to_char(r.update_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'delete_time', NULL, 'expire_time', NULL, 'revision', r.revision)
  FROM risks r
 WHERE r.labels->>'migrated' = 'inline-risks'
 ORDER BY r.id;
