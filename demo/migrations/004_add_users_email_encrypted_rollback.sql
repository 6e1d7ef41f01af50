SET lock_timeout = '5s';
ALTER TABLE users DROP COLUMN email_key_id;
ALTER TABLE users DROP COLUMN email_encrypted;
