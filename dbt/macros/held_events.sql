{#
  Events a failed quality gate held back (RAW.EVENTS_HELD, written by cardflow.quality.holdback):
  Silver skips them, so the next run publishes everything else. A predicate on `event_id_column`;
  `true` while the table does not exist (nothing was ever held, or a dbt unit test).
#}
{% macro not_held(event_id_column='event_id') -%}
    {%- set held = none -%}
    {%- if execute -%}
        {%- set raw = source('raw', 'events') -%}
        {%- if raw.schema -%}
            {%- set held = adapter.get_relation(database=raw.database, schema=raw.schema, identifier='EVENTS_HELD') -%}
        {%- endif -%}
    {%- endif -%}
    {%- if held is not none -%}
        {{ event_id_column }} not in (select event_id from {{ held }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
