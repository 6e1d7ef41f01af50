001_initial_schema.sql
CREATE TABEL x;
