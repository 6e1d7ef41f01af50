-- 001: the music platform's first schema (what used to be created by hand)
-- pgmig:disable missing-lock-timeout
CREATE TABLE users (
    user_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    text NOT NULL UNIQUE,
    email       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE artists (
    artist_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL
);

CREATE TABLE tracks (
    track_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    artist_id   bigint NOT NULL REFERENCES artists,
    title       text NOT NULL,
    duration_ms integer NOT NULL CHECK (duration_ms > 0)
);

CREATE TABLE plays (
    play_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users,
    track_id    bigint NOT NULL REFERENCES tracks,
    played_at   timestamptz NOT NULL DEFAULT now()
);

-- a function body with semicolons and a string with one: split by the
-- real parser, not by ';'
CREATE FUNCTION track_label(t tracks) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN t.title || '; ' || (t.duration_ms / 1000)::text || ' s';
END;
$$;

INSERT INTO artists (name) VALUES ('Nina Simone'), ('Miles Davis'), ('Björk');
INSERT INTO tracks (artist_id, title, duration_ms)
SELECT a.artist_id, a.name || ' – track ' || g, 180000 + g * 1000
FROM artists a, generate_series(1, 20) g;
INSERT INTO users (username, email)
SELECT 'listener' || g, 'listener' || g || '@example.org'
FROM generate_series(1, 200) g;
INSERT INTO plays (user_id, track_id, played_at)
SELECT 1 + (g % 200), 1 + (g % 60), now() - g * interval '1 minute'
FROM generate_series(1, 5000) g;
