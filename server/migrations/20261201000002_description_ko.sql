-- Korean descriptions of goals and partners.
ALTER TABLE policy_goals ADD COLUMN description_ko text NOT NULL DEFAULT '';
ALTER TABLE trade_partners ADD COLUMN description_ko text NOT NULL DEFAULT '';
-- `search:` on goals ORs a trigram index per searched column (docs/querying.md); keep it indexed.
CREATE INDEX policy_goals_description_ko_trgm_idx ON policy_goals USING gin (description_ko gin_trgm_ops);
