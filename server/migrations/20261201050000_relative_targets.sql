-- Relative targets (Target.direction INCREASE_BY / DECREASE_BY) add the computed progress
-- state BASELINE_UNKNOWN (a relative target without a baseline_value). Targets are JSON in
-- policy_goals.targets: their new field `percent_of_baseline` needs no column.
ALTER TABLE policy_goals DROP CONSTRAINT policy_goals_progress_states_check;
ALTER TABLE policy_goals ADD CONSTRAINT policy_goals_progress_states_check
    CHECK (progress_states <@ ARRAY['NO_DATA', 'ON_TRACK', 'AT_RISK', 'OFF_TRACK', 'ACHIEVED', 'BASELINE_UNKNOWN']);
