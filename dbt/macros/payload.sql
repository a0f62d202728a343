{#
  Reading payloads by the field list in dbt_project.yml (vars.payload_fields, the mirror of
  cardflow.contract.PAYLOAD_FIELDS).
#}

{# the field list of an event type: {name: kind} #}
{% macro payload_fields(event_type) -%}
    {{ return(var('payload_fields')[event_type]) }}
{%- endmacro %}

{# fractional digits of a decimal field kind ("decimal:4" -> 4) #}
{% macro decimal_scale_of(kind) -%}
    {{ return(kind.split(':')[1] | int) }}
{%- endmacro %}

{# the typed value of one payload field #}
{% macro payload_value(event_type, name, payload='payload') -%}
    {%- set kind = cardflow.payload_fields(event_type)[name] -%}
    {%- if kind.startswith('decimal') -%}
        {{ cardflow.decode_decimal(payload, name, cardflow.decimal_scale_of(kind)) }}
    {%- else -%}
        {{ cardflow.parse_text(cardflow.json_text(payload, name), kind) }}
    {%- endif -%}
{%- endmacro %}

{#
  Why an event of `event_type` cannot be typed into Silver, or NULL when it can:
    payload_not_object         payload is a JSON array, string, number or null
    missing_field:<name>       a required field is absent, JSON null or an empty string
    bad_type:<name>            a field does not parse as its type (int, timestamp, date)
    bad_decimal:<name>         units/scale missing or not integers, or scale outside [0, s]
  Business-rule problems (negative quantities, defect rate above 1, unknown SKU, unknown status)
  are NOT reasons: those events reach Silver, where dbt tests and the quality gates see them.
#}
{% macro payload_rejection_reason(event_type, payload='payload') -%}
    case
        when not {{ cardflow.json_is_object(payload) }} then 'payload_not_object'
    {%- for name, kind in cardflow.payload_fields(event_type).items() %}
        {%- if kind.startswith('decimal') %}
        when {{ cardflow.json_text(payload, name ~ '.units') }} is null
             or {{ cardflow.json_text(payload, name ~ '.scale') }} is null then 'missing_field:{{ name }}'
        when {{ cardflow.decode_decimal(payload, name, cardflow.decimal_scale_of(kind)) }} is null then 'bad_decimal:{{ name }}'
        {%- else %}
        when coalesce({{ cardflow.json_text(payload, name) }}, '') = '' then 'missing_field:{{ name }}'
            {%- if kind in ('int', 'timestamp', 'date') %}
        when {{ cardflow.parse_text(cardflow.json_text(payload, name), kind) }} is null then 'bad_type:{{ name }}'
            {%- endif %}
        {%- endif %}
    {%- endfor %}
    end
{%- endmacro %}

{# rejection reason for any event type (unknown types are rejected too) #}
{% macro any_rejection_reason(event_type_column='event_type', payload='payload') -%}
    case {{ event_type_column }}
    {%- for event_type in var('payload_fields') %}
        when '{{ event_type }}' then {{ cardflow.payload_rejection_reason(event_type, payload) }}
    {%- endfor %}
        else 'unknown_event_type'
    end
{%- endmacro %}
