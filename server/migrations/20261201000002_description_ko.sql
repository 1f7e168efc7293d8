-- Korean descriptions of goals and partners.
ALTER TABLE policy_goals ADD COLUMN description_ko text NOT NULL DEFAULT '';
ALTER TABLE trade_partners ADD COLUMN description_ko text NOT NULL DEFAULT '';
