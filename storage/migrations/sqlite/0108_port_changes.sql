-- Port changes: /device port sets a switch port's ifAdminStatus for a
-- while; at expires_at the leader sets it back to previous.
CREATE TABLE `port_changes` (`id` integer PRIMARY KEY AUTOINCREMENT,`device` text NOT NULL,`if_index` integer NOT NULL,`port` text NOT NULL,`action` text NOT NULL,`previous` text NOT NULL,`state` text NOT NULL,`requested_by` text NOT NULL,`reason` text NOT NULL DEFAULT '',`duration_s` integer NOT NULL,`approved_by` text NOT NULL DEFAULT '',`created_at` datetime NOT NULL,`applied_at` datetime,`expires_at` datetime,`reverted_at` datetime,`error` text NOT NULL DEFAULT '',`attempts` integer NOT NULL DEFAULT 0,`next_attempt_at` datetime);
CREATE INDEX `idx_port_changes_state_expires` ON `port_changes`(`state`,`expires_at`);
