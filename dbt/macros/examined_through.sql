{#
  How far into RAW a Silver model has looked, kept on the model's own table as a table comment
  ("cardflow raw_loaded_through=<RAW max(loaded_at)>").

  Why: the incremental watermark was max(loaded_at) of the model's rows. For a sparse model
  (int_events_rejected, int_event_conflicts: often empty on clean data) that says nothing about
  how much of RAW was examined, and an empty table fell back to re-reading all of RAW on every run.
  The comment records what the last build examined, whatever it produced; it lives on the table,
  so it travels with it through Snowflake SWAP and CLONE, and write-audit-publish copies it along
  with every table copy (cardflow/transform/wap.py). A table without the comment (a copy made
  without it, a table from before) falls back to max(loaded_at) of its rows, as before.

  Written by a post-hook after the model's rows (dbt_project.yml): RAW's max(loaded_at) when the
  hook runs, which is at least what the model read. A row committed between the model's read and
  the hook has a loaded_at within the lookback window (incremental_lookback_minutes), which the
  next run re-reads, the same margin the row-based watermark already relies on.
#}

{% macro examined_prefix() -%}
    {{ return('cardflow raw_loaded_through=') }}
{%- endmacro %}

{# post-hook: record RAW's max(loaded_at) on `this` #}
{% macro record_examined_through() -%}
    {%- if execute -%}
        {{ cardflow.record_table_marker(cardflow.examined_prefix(), 'select max(loaded_at) from ' ~ source('raw', 'events')) }}
    {%- endif -%}
{%- endmacro %}

{#
  a post-hook's statement: `this`'s table comment becomes `prefix` and the one value `query`
  returns (ISO text, or `format` for strftime); nothing when that value is null
#}
{% macro record_table_marker(prefix, query, format=none) -%}
    {%- if execute -%}
        {%- set newest = run_query(query).columns[0].values()[0] -%}
        {%- if newest is not none -%}
            comment on table {{ this }} is '{{ prefix }}{{ newest.strftime(format) if format else newest.isoformat() }}'
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{# the recorded RAW max(loaded_at) of `relation` as a SQL timestamp expression, or none #}
{% macro examined_through(relation) -%}
    {%- set value = cardflow.table_marker(relation, cardflow.examined_prefix()) -%}
    {%- if value is none -%}{{ return(none) }}{%- endif -%}
    {{ return(cardflow.parse_text("'" ~ value ~ "'", 'timestamp')) }}
{%- endmacro %}

{# the text after `prefix` in the table comment of `relation` (quotes removed), or none #}
{% macro table_marker(relation, prefix) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query(adapter.dispatch('table_comment_query', 'cardflow')(relation)) -%}
    {%- set comment = found.columns[0].values()[0] if found.rows | length > 0 else none -%}
    {%- if comment is none or not comment.startswith(prefix) -%}{{ return(none) }}{%- endif -%}
    {{ return(comment[prefix | length:] | replace("'", "")) }}
{%- endmacro %}

{#
  The same idea one layer up, for the incremental Gold facts (fct_orders, fct_batch_performance):
  their comment records how far into their Silver model the last build looked
  ("cardflow silver_processed_through=<Silver max(processed_at)>"). Silver stamps processed_at on
  every row a run writes (macros/run_started.sql), so the next build only needs the Silver rows
  stamped after that, minus the lookback window, to find the keys whose Gold row may have changed.
  Without the record (a table from before, a copy without it) the build compares all of Silver
  with Gold, as it always did. Why: that comparison read every Silver row and every Gold row on each
  run (3.1 s of a 10M-event build with nothing new); a run should cost what is new.
#}
{% macro silver_processed_prefix() -%}
    {{ return('cardflow silver_processed_through=') }}
{%- endmacro %}

{# post-hook of an incremental Gold fact: record `silver_relation`'s max(processed_at) on `this` #}
{% macro record_silver_processed_through(silver_relation) -%}
    {{ cardflow.record_table_marker(
        cardflow.silver_processed_prefix(),
        'select max(processed_at) from ' ~ silver_relation,
        '%Y-%m-%d %H:%M:%S.%f',
    ) }}
{%- endmacro %}

{#
  predicate on a Silver model's processed_at for an incremental Gold fact: rows stamped after what
  the fact's last build looked at, minus the lookback; `true` without that record
#}
{% macro silver_rows_since_last_build(processed_at_column) -%}
    {%- set through = cardflow.table_marker(this, cardflow.silver_processed_prefix()) -%}
    {%- if through is none -%}
    true
    {%- else -%}
    {%- set lookback = -1 * (var('incremental_lookback_minutes') | int) -%}
    {{ processed_at_column }} > {{ dbt.dateadd('minute', lookback, "cast('" ~ through ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__table_comment_query(relation) -%}
    select comment from duckdb_tables()
    where database_name = current_database()
        and lower(schema_name) = lower('{{ relation.schema }}')
        and lower(table_name) = lower('{{ relation.identifier }}')
{%- endmacro %}

{% macro snowflake__table_comment_query(relation) -%}
    select comment from {{ relation.database }}.information_schema.tables
    where upper(table_schema) = upper('{{ relation.schema }}')
        and upper(table_name) = upper('{{ relation.identifier }}')
{%- endmacro %}
