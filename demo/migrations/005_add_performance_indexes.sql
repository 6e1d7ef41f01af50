-- 005: indexes for the analytics queries, built without blocking writes
-- (CONCURRENTLY cannot run in a transaction: pgmigd runs this file
-- statement by statement, and streams the build's progress)
CREATE INDEX CONCURRENTLY IF NOT EXISTS plays_track_played_idx
    ON plays (track_id, played_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS plays_user_idx ON plays (user_id);
