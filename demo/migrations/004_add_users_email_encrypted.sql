-- 004: room for the encrypted address (filled by the application)
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN email_encrypted bytea;
ALTER TABLE users ADD COLUMN email_key_id smallint;
