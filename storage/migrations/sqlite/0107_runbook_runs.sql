-- Runbook runs: one /run request from its approvals to its end. Output is
-- the masked tail the owner streams into the request's thread.
CREATE TABLE `runbook_runs` (`id` integer PRIMARY KEY AUTOINCREMENT,`runbook` text NOT NULL,`state` text NOT NULL,`requested_by` text NOT NULL,`params` text NOT NULL,`approved_by` text NOT NULL DEFAULT '',`decided_by` text NOT NULL DEFAULT '',`owner` text NOT NULL DEFAULT '',`heartbeat_at` datetime,`created_at` datetime NOT NULL,`started_at` datetime,`finished_at` datetime,`exit_code` integer,`error` text NOT NULL DEFAULT '',`output` text NOT NULL DEFAULT '',`output_bytes` integer NOT NULL DEFAULT 0,`cancel_by` text NOT NULL DEFAULT '');
CREATE INDEX `idx_runbook_runs_runbook_state` ON `runbook_runs`(`runbook`,`state`);
CREATE INDEX `idx_runbook_runs_state` ON `runbook_runs`(`state`);
