{# When this dbt invocation started (UTC): stamps the Silver rows a run wrote, so "an incremental run
   touched only the new batch" can be checked by counting rows with the latest stamp. #}
{% macro run_started_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
