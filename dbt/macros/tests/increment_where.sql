{#
  Data tests on incremental models check only the rows the latest run wrote.

  dbt_project.yml sets `where: __increment__` on every data test. At run time (dbt calls
  get_where_subquery when it executes a test), that placeholder becomes
  `processed_at >= (select max(processed_at) from <model>)` when the tested model is incremental
  and stamps processed_at (the Silver staging models: each run stamps the rows it merged), and
  nothing otherwise (small tables, sources and Gold are tested whole). A full refresh stamps every
  row alike, so it tests the whole table. Uniqueness stays a whole-table fact: delete+insert on the
  unique key removes every earlier copy of a key the increment holds, so a unique increment means a
  unique table. Relationships test the increment's side against the whole parent.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where == '__increment__' -%}
        {%- set where = cardflow.increment_predicate(relation) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro increment_predicate(relation) -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- set node = graph.nodes.get(attached) if attached else none -%}
    {%- if node and node.config.materialized == 'incremental' and 'processed_at' in node.columns -%}
        {%- do return('processed_at >= (select max(processed_at) from ' ~ relation ~ ')') -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}
