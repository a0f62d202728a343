{#
  Safe casts from text: NULL instead of an error when the text does not parse, so one bad payload
  field marks one event as rejected instead of failing the whole model.
#}

{# (not named safe_cast: that would shadow dbt's own macro of that name, which unit tests use) #}
{% macro parse_text(expression, kind) -%}
    {{ return(adapter.dispatch('parse_text', 'cardflow')(expression, kind)) }}
{%- endmacro %}

{% macro duckdb__parse_text(expression, kind) -%}
    {%- set types = {'int': 'bigint', 'timestamp': 'timestamptz', 'date': 'date', 'str': 'varchar', 'status': 'varchar'} -%}
    try_cast({{ expression }} as {{ types[kind] }})
{%- endmacro %}

{% macro snowflake__parse_text(expression, kind) -%}
    {%- set types = {'int': 'number(38, 0)', 'timestamp': 'timestamp_tz', 'date': 'date', 'str': 'varchar', 'status': 'varchar'} -%}
    try_cast({{ expression }} as {{ types[kind] }})
{%- endmacro %}


{# the SQL type of an exact decimal with `scale` fractional digits #}
{% macro exact_decimal_type(scale) -%}
    {{ return(adapter.dispatch('exact_decimal_type', 'cardflow')(scale)) }}
{%- endmacro %}

{% macro duckdb__exact_decimal_type(scale) -%}
    decimal(38, {{ scale }})
{%- endmacro %}

{% macro snowflake__exact_decimal_type(scale) -%}
    number(38, {{ scale }})
{%- endmacro %}
