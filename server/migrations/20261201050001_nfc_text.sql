-- Text is stored in Unicode Normalization Form C from now on (the server normalises every
-- string of a write), and filters compare in NFC, so that decomposed Hangul finds composed
-- text. The searchable columns of rows written before are normalised here (canonically
-- equivalent text: no new revision, no change record).
UPDATE policy_goals SET
    title = normalize(title, NFC),
    title_ko = normalize(title_ko, NFC),
    description = normalize(description, NFC),
    description_ko = normalize(description_ko, NFC)
WHERE title IS NOT NFC NORMALIZED OR title_ko IS NOT NFC NORMALIZED
   OR description IS NOT NFC NORMALIZED OR description_ko IS NOT NFC NORMALIZED;
UPDATE trade_partners SET
    display_name = normalize(display_name, NFC),
    display_name_ko = normalize(display_name_ko, NFC),
    description_ko = normalize(description_ko, NFC),
    source = normalize(source, NFC)
WHERE display_name IS NOT NFC NORMALIZED OR display_name_ko IS NOT NFC NORMALIZED
   OR description_ko IS NOT NFC NORMALIZED OR source IS NOT NFC NORMALIZED;
