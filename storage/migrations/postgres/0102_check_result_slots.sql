-- A check result is keyed by its scheduled slot: a second result for the
-- same check and slot (two leaders overlapping, a retry, a replay) is
-- dropped. Results recorded before this migration have no slot.
ALTER TABLE check_results ADD COLUMN slot character varying(64);
CREATE UNIQUE INDEX idx_check_results_slot ON check_results USING btree ("check", slot);
