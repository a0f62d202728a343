{#
  Schemas are exactly RAW / SILVER / GOLD (or the SNOWFLAKE_*_SCHEMA overrides), not dbt's default
  "<target schema>_<custom schema>": analysts' queries and the quality gates name them directly.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
