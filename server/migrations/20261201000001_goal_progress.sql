-- The computed progress of every target, stored beside `progress_states` and rewritten in the
-- same transactions (goal create/update, RecordMeasurement), so reading a goal needs no
-- measurement query. NULL (goals written before this migration): computed on read until the
-- goal's next write.
ALTER TABLE policy_goals ADD COLUMN progress jsonb;
