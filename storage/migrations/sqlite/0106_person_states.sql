-- People's state as offboarding leaves it: an inactive person is treated as
-- an unknown employee with no roles, whatever the config says, and drops out
-- of every rotation.
CREATE TABLE `person_states` (`name` text PRIMARY KEY,`inactive` numeric NOT NULL DEFAULT false,`changed_by` text NOT NULL,`changed_at` datetime NOT NULL);
