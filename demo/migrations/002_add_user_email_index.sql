-- 002: users are looked up by e-mail at login
SET lock_timeout = '5s';
-- users is small and this runs at deploy time: a plain index is fine here
-- pgmig:disable index-not-concurrent
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
