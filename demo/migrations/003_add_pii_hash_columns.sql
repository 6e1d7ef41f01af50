-- 003: GDPR: a hash of each user's e-mail, for joins without the address
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN email_sha256 text;
UPDATE users SET email_sha256 = encode(sha256(convert_to(lower(email), 'UTF8')), 'hex');
