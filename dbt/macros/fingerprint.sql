{# one text value that changes when any descriptive attribute of a card changes (for SCD2 change detection) #}
{% macro card_attributes_fingerprint() -%}
    coalesce(card_name, '') || '|' || coalesce(sport, '') || '|' || coalesce(player_name, '') || '|'
    || coalesce(team_name, '') || '|' || coalesce(parallel, '') || '|' || coalesce(cast(print_run as varchar), '')
{%- endmacro %}
