-- A check result is keyed by its scheduled slot: a second result for the
-- same check and slot (a retry, a replay) is dropped. Results recorded
-- before this migration have no slot.
ALTER TABLE check_results ADD COLUMN slot text;
CREATE UNIQUE INDEX idx_check_results_slot ON check_results ("check", slot);
