{# Fails on every row where the column is negative (NULLs are not_null's business). #}
{% test non_negative(model, column_name) %}

select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} < 0

{% endtest %}
