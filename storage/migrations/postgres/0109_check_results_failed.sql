-- The failed results of each check, in time order: the ops digest counts a
-- check's failures in a period from this small index instead of reading
-- every result (its runs it counts from idx_check_results_check_at alone).
CREATE INDEX idx_check_results_failed ON check_results USING btree ("check", at) WHERE (NOT ok);
