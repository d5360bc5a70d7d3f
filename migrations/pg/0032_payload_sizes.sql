-- 0032 (PostgreSQL): each node payload's size, as the library wrote it.
--
-- `listNodeSummaries` gives a payload inline only up to a bound and says the
-- size of one it leaves out. SQLite measures the JSON text it stores, the
-- compact text the library wrote; jsonb keeps no text, and its text form
-- spaces every `:` and `,` and spells a number in full (1e300 in 301 digits):
-- 14 × 1e300, 99 bytes as written, was "4242 bytes, left out" here and inline
-- on SQLite. So the store writes each payload's size beside it (runs.ts
-- startNode and finishNode: the bytes of the text it sends) and the listing
-- reads it, never measuring a payload again. A payload written without its
-- size (raw SQL) is measured by its jsonb text, as before.
--
-- Rows already here are measured as JavaScript writes them
-- (JSON.stringify): a number in exponent form below 1e-6 and from 1e21 on,
-- in full otherwise (as jsonb keeps it); strings and keys escaped as jsonb
-- escapes them, which is JSON.stringify's set; no spaces. A legacy
-- database's nodes are measured so too once 0002 has upgraded them.
--
-- The columns are the table's: a role granted the table (the README's
-- least-privilege recipe, `ON ALL TABLES`) has them. The measure is a
-- function of this session alone (pg_temp), gone when it ends.
--
-- Replay-safe: ADD COLUMN IF NOT EXISTS; only sizes not yet written are filled.

ALTER TABLE workflow_node_executions
  ADD COLUMN IF NOT EXISTS input_payload_bytes integer,
  ADD COLUMN IF NOT EXISTS output_payload_bytes integer;

CREATE FUNCTION pg_temp.ai_job_compact_json_bytes(value jsonb) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  kind text := jsonb_typeof(value);
  total integer;
  magnitude numeric;
  whole text;
  fraction text;
  digits text;
  exponent integer;
BEGIN
  IF kind = 'object' THEN
    SELECT 2 + coalesce(sum(octet_length(to_jsonb(e.key)::text) + 1 + pg_temp.ai_job_compact_json_bytes(e.value)) + count(*) - 1, 0)
      INTO total FROM jsonb_each(value) AS e;
    RETURN total;
  ELSIF kind = 'array' THEN
    SELECT 2 + coalesce(sum(pg_temp.ai_job_compact_json_bytes(e.value)) + count(*) - 1, 0)
      INTO total FROM jsonb_array_elements(value) AS e;
    RETURN total;
  ELSIF kind <> 'number' THEN
    RETURN octet_length(value::text);
  END IF;
  magnitude := abs(value::numeric);
  IF magnitude = 0 THEN
    RETURN 1;
  ELSIF magnitude >= 0.000001 AND magnitude < 1e21 THEN
    RETURN octet_length(value::text);
  END IF;
  -- Exponent form: d[.ddd]e±n, the digits without the zeros around them.
  whole := split_part(magnitude::text, '.', 1);
  fraction := split_part(magnitude::text, '.', 2);
  IF magnitude >= 1 THEN
    exponent := length(whole) - 1;
    digits := rtrim(whole || fraction, '0');
  ELSE
    exponent := -(length(fraction) - length(ltrim(fraction, '0')) + 1);
    digits := rtrim(ltrim(fraction, '0'), '0');
  END IF;
  RETURN (CASE WHEN value::numeric < 0 THEN 1 ELSE 0 END) + length(digits) + (CASE WHEN length(digits) > 1 THEN 1 ELSE 0 END)
    + 2 + length(abs(exponent)::text);
END
$$;

UPDATE workflow_node_executions SET
  input_payload_bytes = CASE WHEN input_payload IS NOT NULL AND input_payload <> 'null'::jsonb THEN pg_temp.ai_job_compact_json_bytes(input_payload) END,
  output_payload_bytes = CASE WHEN output_payload IS NOT NULL AND output_payload <> 'null'::jsonb THEN pg_temp.ai_job_compact_json_bytes(output_payload) END
WHERE (input_payload_bytes IS NULL AND input_payload IS NOT NULL AND input_payload <> 'null'::jsonb)
   OR (output_payload_bytes IS NULL AND output_payload IS NOT NULL AND output_payload <> 'null'::jsonb);

DROP FUNCTION pg_temp.ai_job_compact_json_bytes(jsonb);
