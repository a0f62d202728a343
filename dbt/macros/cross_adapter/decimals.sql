{#
  Exact decoding of protobuf-style decimals {"units": int, "scale": int} = units * 10^-scale.

  Never through float: units (a 64-bit integer, at most 19 digits: the contract's bound) is
  multiplied by the exact decimal literal 10^-scale, chosen by CASE: decimal(19, 0) *
  decimal(target_scale + 1, target_scale) is a decimal(38, target_scale) for target_scale 18,
  computed exactly (at most 19 significant digits), then cast to
  decimal(38, target_scale) (a widening, no rounding). target_scale is var('decimal_scale') = the
  contract's largest scale, so every scale the contract accepts decodes exactly; anything else
  decodes to NULL and the event is rejected with a reason (see payload_rejection_reason).
#}

{% macro decode_decimal(payload, field, target_scale) -%}
    {{ return(adapter.dispatch('decode_decimal', 'cardflow')(payload, field, target_scale)) }}
{%- endmacro %}

{% macro duckdb__decode_decimal(payload, field, target_scale) -%}
    cast(
        try_cast({{ cardflow.json_text(payload, field ~ '.units') }} as decimal(19, 0))
        * {{ cardflow.decimal_scale_factor(cardflow.json_text(payload, field ~ '.scale'), target_scale, 'decimal') }}
        as decimal(38, {{ target_scale }})
    )
{%- endmacro %}

{% macro snowflake__decode_decimal(payload, field, target_scale) -%}
    cast(
        try_cast({{ cardflow.json_text(payload, field ~ '.units') }} as number(19, 0))
        * {{ cardflow.decimal_scale_factor(cardflow.json_text(payload, field ~ '.scale'), target_scale, 'number') }}
        as number(38, {{ target_scale }})
    )
{%- endmacro %}


{# CASE scale WHEN k THEN exact 10^-k ... : NULL for a scale outside [0, target_scale] or not an integer #}
{% macro decimal_scale_factor(scale_text, target_scale, type_name) -%}
    case {{ scale_text }}
    {%- for k in range(0, target_scale + 1) %}
        when '{{ k }}' then cast('{{ "1" if k == 0 else "0." ~ ("0" * (k - 1)) ~ "1" }}' as {{ type_name }}({{ target_scale + 1 }}, {{ target_scale }}))
    {%- endfor %}
    end
{%- endmacro %}
