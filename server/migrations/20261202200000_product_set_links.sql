-- Risks and goals may link the product sets they concern (`productSets/{id}`, stored as ids).
-- Checked live by the store like their goal and partner links; a forced delete of a product
-- set removes it from these lists.
ALTER TABLE risks ADD COLUMN product_sets text[] NOT NULL DEFAULT '{}';
ALTER TABLE policy_goals ADD COLUMN product_sets text[] NOT NULL DEFAULT '{}';

CREATE INDEX risks_product_sets_idx ON risks USING gin (product_sets);
CREATE INDEX policy_goals_product_sets_idx ON policy_goals USING gin (product_sets);
