{# Fails on every row whose defect rate lies outside [0, 1] (a rate is a share of units). #}
{% test defect_rate_between_zero_one(model, column_name) %}

select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} < 0 or {{ column_name }} > 1

{% endtest %}
