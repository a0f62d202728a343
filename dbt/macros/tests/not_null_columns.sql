{#
  Required columns of one model, checked in ONE query: a row per column that holds NULLs, with how
  many (no rows: every listed column is complete).

  Why not dbt's not_null per column: each test is a dbt node with its own compile, connection and
  result (about 65 ms each on DuckDB, a Prefect task each under PrefectDbtRunner), and a layer had
  49 of them; one aggregate per model reads each column once and names the offenders the same
  way. On incremental Silver models the `where: __increment__` config scopes it to the rows the
  latest run wrote, like every other data test (increment_where.sql).
#}
{% test not_null_columns(model, columns) %}

with null_counts as (

    select
        {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}__nulls{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ model }}

)

{% for column in columns -%}
select '{{ column }}' as column_name, {{ column }}__nulls as null_rows
from null_counts
where {{ column }}__nulls > 0
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}

{% endtest %}
