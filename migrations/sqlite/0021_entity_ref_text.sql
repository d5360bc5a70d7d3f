-- 0021 (SQLite): an entity ref's text is text both databases store, as the
-- domain's NonEmptyText says: no U+0000 and no lone UTF-16 surrogate.
--
-- 0020 made the database refuse entity refs that are no {entity_id,
-- entity_kind} object of two non-empty strings. JSON text can still spell
-- what NonEmptyText refuses with an escape — `"a\u0000b"`, a lone
-- `"\ud800"`, a pair in the wrong order — and SQLite took such a row, which
-- the store then read as CorruptRow (JSON.parse gives the NUL or the lone
-- surrogate back). PostgreSQL's jsonb refuses every one of them on input
-- (22P05/22P02), so this is SQLite catching up; PostgreSQL needs no 0021.
-- The library never writes one (the domain refuses it first): this refuses
-- only raw SQL, naming the constraint the value breaks, as 0020 does, so the
-- store reports it as every failed CHECK (a StorageError keeping the
-- driver's error).
--
-- How: only a value with a `\u` escape can decode to either (raw control
-- characters are no JSON: the CHECK's json_valid refuses them), so the walk
-- runs only then — never for '[]' or the plain text JSON.stringify writes.
-- Each element's string fields are read decoded: a NUL is found by instr; a
-- lone surrogate is the only thing SQLite decodes to the bytes ED A0..ED BF
-- (a surrogate pair becomes one 4-byte character; ED 80..9F is Hangul and
-- the like, and ED is never a continuation byte, so the byte pair is exact).
-- Text holding invalid UTF-8 bytes raw is no text the library writes either.
--
-- Triggers, not a rebuilt CHECK (0013, 0019, 0020): BEFORE INSERT, and
-- BEFORE UPDATE OF entity_refs judging only a changed value, so a row stored
-- before this migration still opens and still moves.
--
-- Replay-safe: each trigger dropped if it exists, then created.

DROP TRIGGER IF EXISTS ai_jobs_entity_refs_text_insert;
CREATE TRIGGER ai_jobs_entity_refs_text_insert BEFORE INSERT ON ai_jobs
WHEN instr(NEW.entity_refs, '\u') > 0 AND json_valid(NEW.entity_refs) AND EXISTS (
    SELECT 1 FROM json_each(NEW.entity_refs) AS ref, json_each(ref.value) AS field
    WHERE field.type = 'text' AND (
      instr(field.value, char(0)) > 0
      OR (instr(CAST(field.value AS BLOB), X'ED') > 0 AND (
          instr(CAST(field.value AS BLOB), X'EDA0') > 0 OR instr(CAST(field.value AS BLOB), X'EDA1') > 0 OR instr(CAST(field.value AS BLOB), X'EDA2') > 0 OR instr(CAST(field.value AS BLOB), X'EDA3') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDA4') > 0 OR instr(CAST(field.value AS BLOB), X'EDA5') > 0 OR instr(CAST(field.value AS BLOB), X'EDA6') > 0 OR instr(CAST(field.value AS BLOB), X'EDA7') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDA8') > 0 OR instr(CAST(field.value AS BLOB), X'EDA9') > 0 OR instr(CAST(field.value AS BLOB), X'EDAA') > 0 OR instr(CAST(field.value AS BLOB), X'EDAB') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDAC') > 0 OR instr(CAST(field.value AS BLOB), X'EDAD') > 0 OR instr(CAST(field.value AS BLOB), X'EDAE') > 0 OR instr(CAST(field.value AS BLOB), X'EDAF') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDB0') > 0 OR instr(CAST(field.value AS BLOB), X'EDB1') > 0 OR instr(CAST(field.value AS BLOB), X'EDB2') > 0 OR instr(CAST(field.value AS BLOB), X'EDB3') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDB4') > 0 OR instr(CAST(field.value AS BLOB), X'EDB5') > 0 OR instr(CAST(field.value AS BLOB), X'EDB6') > 0 OR instr(CAST(field.value AS BLOB), X'EDB7') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDB8') > 0 OR instr(CAST(field.value AS BLOB), X'EDB9') > 0 OR instr(CAST(field.value AS BLOB), X'EDBA') > 0 OR instr(CAST(field.value AS BLOB), X'EDBB') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDBC') > 0 OR instr(CAST(field.value AS BLOB), X'EDBD') > 0 OR instr(CAST(field.value AS BLOB), X'EDBE') > 0 OR instr(CAST(field.value AS BLOB), X'EDBF') > 0))))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_entity_refs_array (an entity ref whose text holds U+0000 or a lone UTF-16 surrogate)');
END;

DROP TRIGGER IF EXISTS ai_jobs_entity_refs_text_update;
CREATE TRIGGER ai_jobs_entity_refs_text_update BEFORE UPDATE OF entity_refs ON ai_jobs
WHEN NEW.entity_refs IS NOT OLD.entity_refs AND instr(NEW.entity_refs, '\u') > 0 AND json_valid(NEW.entity_refs) AND EXISTS (
    SELECT 1 FROM json_each(NEW.entity_refs) AS ref, json_each(ref.value) AS field
    WHERE field.type = 'text' AND (
      instr(field.value, char(0)) > 0
      OR (instr(CAST(field.value AS BLOB), X'ED') > 0 AND (
          instr(CAST(field.value AS BLOB), X'EDA0') > 0 OR instr(CAST(field.value AS BLOB), X'EDA1') > 0 OR instr(CAST(field.value AS BLOB), X'EDA2') > 0 OR instr(CAST(field.value AS BLOB), X'EDA3') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDA4') > 0 OR instr(CAST(field.value AS BLOB), X'EDA5') > 0 OR instr(CAST(field.value AS BLOB), X'EDA6') > 0 OR instr(CAST(field.value AS BLOB), X'EDA7') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDA8') > 0 OR instr(CAST(field.value AS BLOB), X'EDA9') > 0 OR instr(CAST(field.value AS BLOB), X'EDAA') > 0 OR instr(CAST(field.value AS BLOB), X'EDAB') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDAC') > 0 OR instr(CAST(field.value AS BLOB), X'EDAD') > 0 OR instr(CAST(field.value AS BLOB), X'EDAE') > 0 OR instr(CAST(field.value AS BLOB), X'EDAF') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDB0') > 0 OR instr(CAST(field.value AS BLOB), X'EDB1') > 0 OR instr(CAST(field.value AS BLOB), X'EDB2') > 0 OR instr(CAST(field.value AS BLOB), X'EDB3') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDB4') > 0 OR instr(CAST(field.value AS BLOB), X'EDB5') > 0 OR instr(CAST(field.value AS BLOB), X'EDB6') > 0 OR instr(CAST(field.value AS BLOB), X'EDB7') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDB8') > 0 OR instr(CAST(field.value AS BLOB), X'EDB9') > 0 OR instr(CAST(field.value AS BLOB), X'EDBA') > 0 OR instr(CAST(field.value AS BLOB), X'EDBB') > 0 OR
          instr(CAST(field.value AS BLOB), X'EDBC') > 0 OR instr(CAST(field.value AS BLOB), X'EDBD') > 0 OR instr(CAST(field.value AS BLOB), X'EDBE') > 0 OR instr(CAST(field.value AS BLOB), X'EDBF') > 0))))
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ai_jobs_entity_refs_array (an entity ref whose text holds U+0000 or a lone UTF-16 surrogate)');
END;
