{# When this model was compiled in the current dbt invocation (UTC): stamps the Silver rows a run
   wrote, so "an incremental run touched only the new batch" can be checked by counting rows with
   the latest stamp. (Not run_started_at: it stays the same for every invocation in one process.) #}
{% macro run_started_timestamp() -%}
    cast('{{ modules.datetime.datetime.now(modules.pytz.utc).strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
