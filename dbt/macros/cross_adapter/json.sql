{#
  JSON access on RAW.EVENTS.PAYLOAD: a JSON column on DuckDB, a VARIANT on Snowflake.
  Every accessor returns NULL (never an error) for a missing key, a JSON null, or a payload that is
  not an object (malformed payloads are a JSON array or a string), so Silver cannot crash on them.
  `path` is dotted: 'price.units'.
#}

{# text of a payload field (numbers as their literal text), NULL when absent or JSON null #}
{% macro json_text(payload, path) -%}
    {{ return(adapter.dispatch('json_text', 'cardflow')(payload, path)) }}
{%- endmacro %}

{% macro duckdb__json_text(payload, path) -%}
    json_extract_string({{ payload }}, '$.{{ path }}')
{%- endmacro %}

{% macro snowflake__json_text(payload, path) -%}
    {{ payload }}:{{ path | replace('.', ':') }}::varchar
{%- endmacro %}


{# true when the payload is a JSON object #}
{% macro json_is_object(payload) -%}
    {{ return(adapter.dispatch('json_is_object', 'cardflow')(payload)) }}
{%- endmacro %}

{% macro duckdb__json_is_object(payload) -%}
    coalesce(json_type({{ payload }}) = 'OBJECT', false)
{%- endmacro %}

{#
  IS_OBJECT(payload) is the idiomatic Snowflake test, but fakesnow (the Snowflake stand-in the tests
  run against) does not implement it; the serialized form starting with '{' means the same thing
  on both and keeps one code path.
#}
{% macro snowflake__json_is_object(payload) -%}
    coalesce(left(to_json({{ payload }}), 1) = '{', false)
{%- endmacro %}


{# the payload as JSON text (for the rejected-events model) #}
{% macro json_to_text(payload) -%}
    {{ return(adapter.dispatch('json_to_text', 'cardflow')(payload)) }}
{%- endmacro %}

{% macro duckdb__json_to_text(payload) -%}
    cast({{ payload }} as varchar)
{%- endmacro %}

{% macro snowflake__json_to_text(payload) -%}
    to_json({{ payload }})
{%- endmacro %}
