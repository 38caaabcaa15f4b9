-- On-call overrides and swaps: Person holds Team's Layer from starts_at
-- until ends_at, winning over the rotation once accepted (an override at
-- once, a swap when the person taking it over accepts).
CREATE TABLE `oncall_overrides` (`id` integer PRIMARY KEY AUTOINCREMENT,`team` text NOT NULL,`layer` text NOT NULL,`person` text NOT NULL,`starts_at` datetime NOT NULL,`ends_at` datetime NOT NULL,`kind` text NOT NULL,`swap_from` text,`created_by` text NOT NULL,`created_at` datetime NOT NULL,`accepted_at` datetime);
CREATE INDEX `idx_oncall_overrides_team_ends` ON `oncall_overrides`(`team`,`ends_at`);
