-- States the source does not give are "unspecified", not PLANNED: a goal created without a
-- state is UNSPECIFIED (it may then become any stated state). Milestone and engagement states
-- are JSON and need no change. Existing goals keep their state: whether it was stated cannot
-- be known from the row.
ALTER TABLE policy_goals DROP CONSTRAINT policy_goals_state_check;
ALTER TABLE policy_goals ADD CONSTRAINT policy_goals_state_check
    CHECK (state IN ('UNSPECIFIED', 'PLANNED', 'ACTIVE', 'ON_HOLD', 'CLOSED'));
