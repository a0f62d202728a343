{# NULL-safe inequality (IS DISTINCT FROM), written out because not every engine parses it the same way #}
{% macro differs(left, right) -%}
    ({{ left }} <> {{ right }} or ({{ left }} is null) <> ({{ right }} is null))
{%- endmacro %}
