-- Goals have contributing organisations besides the lead, and "contributes to" links to other
-- goals besides their parent in the tree (PolicyGoal.contributing_organizations,
-- PolicyGoal.contributes_to), both filterable.
ALTER TABLE policy_goals
    ADD COLUMN contributing_organizations text[] NOT NULL DEFAULT '{}',
    ADD COLUMN contributes_to text[] NOT NULL DEFAULT '{}';
CREATE INDEX policy_goals_contributing_organizations_idx ON policy_goals USING gin (contributing_organizations);
CREATE INDEX policy_goals_contributes_to_idx ON policy_goals USING gin (contributes_to);
