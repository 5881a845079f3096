-- The public read model (contract section 6): schema waste, read by leancrm_ops.
-- Every view reads the active store {store}; switching stores (a rebuild)
-- replaces them all in one transaction, so readers never see partial figures.
-- Days (the day columns) are days of the business time zone, {store}.settings.business_timezone
-- (LEANCRM_BUSINESS_TIMEZONE, default UTC); hours (bucket_start) are UTC hours.
-- Sums and averages of seconds are taken in numeric, exactly, and then given back as
-- double precision: a float sum depends on the order rows are read in, which depends
-- on the order events arrived in, and section 5's figures must not.
CREATE SCHEMA IF NOT EXISTS waste;

-- repeat_of: the customer's most recent earlier interaction with the same reason
-- that started at most 7 days before (ties on started_at ordered by interaction_id).
-- has_repeat: the next such interaction starts within 7 days — exactly when some
-- later interaction's repeat_of points here. Internal columns (reached_agent,
-- started_event_id) stay in the store's view; team is public (filters by team).
CREATE OR REPLACE VIEW {store}.interactions_linked AS
WITH ordered AS (
    SELECT i.*,
           lag(interaction_id) OVER w AS prev_id,
           lag(started_at) OVER w AS prev_started,
           lead(started_at) OVER w AS next_started
    FROM {store}.interactions i
    WHERE started_at IS NOT NULL
    WINDOW w AS (PARTITION BY customer_id, reason ORDER BY started_at, interaction_id)
)
SELECT o.*,
       (status = 'resolved' AND transfers = 0
        AND NOT coalesce(next_started <= started_at + interval '7 days', FALSE))
           AS first_contact_resolution,
       CASE WHEN prev_started >= started_at - interval '7 days' THEN prev_id END AS repeat_of
FROM ordered o;

CREATE OR REPLACE VIEW waste.interactions AS
SELECT interaction_id, customer_id, channel, reason, started_at, ended_at, status, resolved_by,
       transfers, cross_channel_transfers, identifications, queue_wait_s, hold_s, handle_s,
       value_added_s, lead_time_s, first_contact_resolution, repeat_of,
       team  -- the last assigned agent's team (null: none yet); added last, so a replace keeps the others
FROM {store}.interactions_linked;

CREATE OR REPLACE VIEW waste.capacity_hourly AS
WITH staffed AS (
    SELECT bucket_start, team, sum(staffed_s::numeric) AS staffed_s
    FROM {store}.staffed_hourly GROUP BY bucket_start, team
), busy AS (
    SELECT bucket_start, team, sum(busy_s::numeric) AS busy_s
    FROM {store}.busy_hourly GROUP BY bucket_start, team
), target AS (
    SELECT coalesce((SELECT target_occupancy FROM {store}.settings), 0.85) AS t
)
SELECT coalesce(s.bucket_start, b.bucket_start) AS bucket_start,
       coalesce(s.team, b.team) AS team,
       coalesce(s.staffed_s, 0)::double precision AS staffed_s,
       coalesce(b.busy_s, 0)::double precision AS busy_s,
       (coalesce(s.staffed_s, 0) - coalesce(b.busy_s, 0))::double precision AS idle_s,
       (coalesce(b.busy_s, 0) / nullif(coalesce(s.staffed_s, 0), 0))::double precision AS occupancy,
       greatest(0, (coalesce(s.staffed_s, 0) - coalesce(b.busy_s, 0))
                   - (1 - target.t) * coalesce(s.staffed_s, 0))::double precision AS overproduction_s
FROM staffed s FULL OUTER JOIN busy b ON s.bucket_start = b.bucket_start AND s.team = b.team
CROSS JOIN target;

CREATE OR REPLACE VIEW waste.waste_ledger AS
SELECT waste_type, subtype, occurred_at, interaction_id, customer_id, channel, reason, team,
       quantity, unit, source_event_id
FROM {store}.ledger
UNION ALL
SELECT 'defects', 'repeat_contact', r.started_at, e.interaction_id, e.customer_id, e.channel,
       e.reason, e.team, 1::double precision, 'count', r.started_event_id
FROM {store}.interactions_linked r
JOIN {store}.interactions e ON e.interaction_id = r.repeat_of
UNION ALL
SELECT 'overproduction', 'idle_capacity', bucket_start, NULL, NULL, NULL, NULL, team,
       overproduction_s, 'seconds', NULL
FROM waste.capacity_hourly
WHERE overproduction_s > 0;  -- an occurrence only while there is idle time beyond the target

CREATE OR REPLACE VIEW waste.hourly_metrics AS
SELECT date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket_start,
       channel, reason,
       count(*) AS contacts,
       count(*) FILTER (WHERE status = 'resolved') AS resolved,
       count(*) FILTER (WHERE first_contact_resolution) AS first_contact_resolutions,
       count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand,
       sum(transfers) AS transfers,
       count(*) FILTER (WHERE status = 'abandoned') AS abandoned,
       sum(queue_wait_s::numeric)::double precision AS queue_wait_s,
       sum(hold_s::numeric)::double precision AS hold_s,
       sum(handle_s::numeric)::double precision AS handle_s,
       sum(value_added_s::numeric)::double precision AS value_added_s,
       sum(lead_time_s::numeric)::double precision AS lead_time_s
FROM waste.interactions
GROUP BY 1, channel, reason;

CREATE OR REPLACE VIEW waste.waste_daily AS
SELECT (occurred_at AT TIME ZONE (SELECT business_timezone FROM {store}.settings))::date AS day, waste_type,
       count(*) AS occurrences, sum(quantity::numeric)::double precision AS quantity, min(unit) AS unit
FROM waste.waste_ledger
GROUP BY 1, waste_type;

CREATE OR REPLACE VIEW waste.value_stream_daily AS
WITH flow AS (
    SELECT (started_at AT TIME ZONE (SELECT business_timezone FROM {store}.settings))::date AS day, channel, reason,
           count(*) AS contacts,
           count(*) FILTER (WHERE first_contact_resolution) AS fcr,
           count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand,
           count(*) FILTER (WHERE transfers >= 1) AS transferred,
           count(*) FILTER (WHERE status = 'abandoned') AS abandoned,
           avg(queue_wait_s::numeric) FILTER (WHERE reached_agent) AS avg_speed_of_answer_s,
           avg(handle_s::numeric) FILTER (WHERE reached_agent) AS avg_handle_s,
           sum(value_added_s::numeric) FILTER (WHERE ended_at IS NOT NULL) AS va,
           sum(lead_time_s::numeric) FILTER (WHERE ended_at IS NOT NULL) AS lt
    FROM {store}.interactions_linked
    GROUP BY 1, channel, reason
), wastes AS (
    SELECT (occurred_at AT TIME ZONE (SELECT business_timezone FROM {store}.settings))::date AS day, channel, reason,
           sum(quantity::numeric) FILTER (WHERE waste_type = 'waiting') AS waiting_s,
           count(*) FILTER (WHERE waste_type = 'over_processing') AS over_processing,
           count(*) FILTER (WHERE waste_type = 'motion') AS motion,
           count(*) FILTER (WHERE waste_type = 'transportation') AS transportation,
           count(*) FILTER (WHERE waste_type = 'defects') AS defects,
           count(*) FILTER (WHERE waste_type = 'inventory') AS inventory
    FROM waste.waste_ledger
    WHERE interaction_id IS NOT NULL
    GROUP BY 1, channel, reason
)
SELECT coalesce(f.day, w.day) AS day,
       coalesce(f.channel, w.channel) AS channel,
       coalesce(f.reason, w.reason) AS reason,
       coalesce(f.contacts, 0) AS contacts,
       f.fcr::double precision / nullif(f.contacts, 0) AS fcr_rate,
       f.failure_demand::double precision / nullif(f.contacts, 0) AS failure_demand_rate,
       f.transferred::double precision / nullif(f.contacts, 0) AS transfer_rate,
       f.abandoned::double precision / nullif(f.contacts, 0) AS abandonment_rate,
       f.avg_speed_of_answer_s::double precision AS avg_speed_of_answer_s,
       f.avg_handle_s::double precision AS avg_handle_s,
       (f.va / nullif(f.lt, 0))::double precision AS flow_efficiency,
       coalesce(w.waiting_s, 0)::double precision AS waiting_s,
       coalesce(w.over_processing, 0) AS over_processing,
       coalesce(w.motion, 0) AS motion,
       coalesce(w.transportation, 0) AS transportation,
       coalesce(w.defects, 0) AS defects,
       coalesce(w.inventory, 0) AS inventory
FROM flow f
FULL OUTER JOIN wastes w ON f.day = w.day AND f.channel = w.channel AND f.reason = w.reason;

CREATE OR REPLACE VIEW waste.backlog AS
SELECT channel,
       CASE WHEN now() - started_at < interval '1 hour' THEN '<1h'
            WHEN now() - started_at <= interval '24 hours' THEN '1-24h'
            ELSE '>24h' END AS age_band,
       count(*) AS open_interactions
FROM {store}.interactions
WHERE ended_at IS NULL AND started_at IS NOT NULL  -- open: not ended (contract section 4)
GROUP BY channel, 2;

CREATE OR REPLACE VIEW waste.feedback_daily AS
WITH votes AS (
    SELECT feedback_id, sum(vote) AS net_votes FROM {store}.idea_votes GROUP BY feedback_id
)
SELECT (f.received_at AT TIME ZONE (SELECT business_timezone FROM {store}.settings))::date AS day, f.source, f.routed_team,
       count(*) AS feedback_count,
       avg(f.sentiment_score::numeric)::double precision AS avg_sentiment,
       (count(*) FILTER (WHERE f.sentiment_label = 'negative'))::double precision
           / nullif(count(f.sentiment_label), 0) AS negative_share,
       count(*) FILTER (WHERE f.source = 'idea') AS ideas,
       coalesce(sum(v.net_votes) FILTER (WHERE f.source = 'idea'), 0) AS idea_votes
FROM {store}.feedback f
LEFT JOIN votes v USING (feedback_id)
WHERE f.received_at IS NOT NULL
GROUP BY 1, f.source, f.routed_team;

CREATE OR REPLACE VIEW waste.customers AS
SELECT customer_id, segment, name, email, forgotten, personal_data FROM {store}.customers;

-- Open interactions now (contract section 6): the backlog one row each, with the
-- waiting accrued so far in the episodes still open (live: up to now()), which no
-- other figure counts until the episode ends.
CREATE OR REPLACE VIEW waste.open_interactions AS
SELECT interaction_id, channel, reason, team, started_at,
       CASE WHEN now() - started_at < interval '1 hour' THEN '<1h'
            WHEN now() - started_at <= interval '24 hours' THEN '1-24h'
            ELSE '>24h' END AS age_band,
       queued_since, on_hold_since,
       CASE WHEN queued_since IS NOT NULL OR on_hold_since IS NOT NULL THEN
           coalesce(greatest(0, extract(epoch FROM now() - queued_since)), 0)
           + coalesce(greatest(0, extract(epoch FROM now() - on_hold_since)), 0)
       END::double precision AS open_waiting_s
FROM {store}.interactions
WHERE ended_at IS NULL AND started_at IS NOT NULL;  -- open: not ended, as waste.backlog

-- Service level and speed of answer, demand by type, lead-time percentiles (contract
-- section 5, "Service level, demand and lead times"; issue 14). The reference is
-- leancrm_waste.domain.service_level and leancrm_waste.domain.demand.
CREATE OR REPLACE VIEW waste.service_level_targets AS
SELECT channel, threshold_s FROM {store}.service_level_targets;

-- The business time zone the day columns are cut in (one row; UTC when a store has no
-- settings row yet), so a reader of the views (the huddle) cuts its days where they do.
CREATE OR REPLACE VIEW waste.business_time_zone AS
SELECT coalesce((SELECT business_timezone FROM {store}.settings), 'UTC') AS time_zone;

CREATE OR REPLACE VIEW waste.service_level_hourly AS
WITH counted AS (
    SELECT date_trunc('hour', i.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket_start,
           i.channel, t.threshold_s,
           count(*) AS contacts,
           count(*) FILTER (WHERE i.reached_agent) AS answered,
           count(*) FILTER (WHERE i.reached_agent AND i.queue_wait_s <= t.threshold_s) AS within,
           -- never answered, no longer open, and waited beyond the threshold: counts against
           count(*) FILTER (WHERE NOT i.reached_agent AND i.status <> 'open'
                                  AND i.queue_wait_s > t.threshold_s) AS late,
           avg(i.queue_wait_s::numeric) FILTER (WHERE i.reached_agent) AS asa,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY i.queue_wait_s)
               FILTER (WHERE i.reached_agent) AS p90
    FROM {store}.interactions i
    LEFT JOIN {store}.service_level_targets t ON t.channel = i.channel
    WHERE i.started_at IS NOT NULL
    GROUP BY 1, i.channel, t.threshold_s
)
SELECT bucket_start, channel, threshold_s, contacts,
       answered + late AS offered,
       answered,
       CASE WHEN threshold_s IS NOT NULL THEN within END AS answered_within_threshold,
       CASE WHEN threshold_s IS NOT NULL THEN late END AS abandoned_after_threshold,
       CASE WHEN threshold_s IS NOT NULL
            THEN within::double precision / nullif(answered + late, 0) END AS service_level,
       asa::double precision AS avg_speed_of_answer_s,
       p90 AS p90_speed_of_answer_s
FROM counted;

CREATE OR REPLACE VIEW waste.demand_daily AS
SELECT (started_at AT TIME ZONE (SELECT business_timezone FROM {store}.settings))::date AS day, channel, reason,
       count(*) AS contacts,
       count(*) FILTER (WHERE repeat_of IS NULL) AS value_demand,
       count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand,
       (count(*) FILTER (WHERE repeat_of IS NOT NULL))::double precision / count(*)
           AS failure_demand_share
FROM waste.interactions
GROUP BY 1, channel, reason;

CREATE OR REPLACE VIEW waste.lead_time_daily AS
SELECT (ended_at AT TIME ZONE (SELECT business_timezone FROM {store}.settings))::date AS day, reason,
       count(*) AS ended_interactions,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_s) AS p50_lead_time_s,
       percentile_cont(0.85) WITHIN GROUP (ORDER BY lead_time_s) AS p85_lead_time_s,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY lead_time_s) AS p95_lead_time_s
FROM {store}.interactions
WHERE ended_at IS NOT NULL AND lead_time_s IS NOT NULL
GROUP BY 1, reason;

-- Data quality (contract sections 4 and 6): what spans streams that arrive in any
-- order is accepted by the services and counted here once both streams are in. Per
-- day of the occurrence (business time zone) and kind of anomaly:
-- assignment_outside_sign_in: an interaction.agent_assigned at a time no sign-in
--   period of that agent covers (signed_in <= at < signed_out, or still signed in);
-- assignment_team_differs: covered, but under another team than the sign-in's;
-- interaction_of_unknown_customer: an interaction.started for a customer with no
--   customer event (day of the start).
CREATE OR REPLACE VIEW waste.data_quality AS
WITH assignments AS (
    SELECT e.occurred_at, e.data->>'agent_id' AS agent_id, e.data->>'team' AS team
    FROM {store}.interaction_events e
    WHERE e.event_type = 'interaction.agent_assigned'
), judged AS (
    SELECT a.occurred_at,
           CASE WHEN p.agent_id IS NULL THEN 'assignment_outside_sign_in'
                WHEN p.team IS DISTINCT FROM a.team THEN 'assignment_team_differs' END AS anomaly
    FROM assignments a
    LEFT JOIN LATERAL (
        SELECT q.agent_id, q.team FROM {store}.agent_periods q
        WHERE q.agent_id = a.agent_id AND q.start_at <= a.occurred_at
          AND (q.end_at IS NULL OR a.occurred_at < q.end_at)
        ORDER BY q.start_at DESC LIMIT 1
    ) p ON TRUE
    UNION ALL
    SELECT i.started_at, 'interaction_of_unknown_customer'
    FROM {store}.interactions i
    WHERE i.started_at IS NOT NULL AND i.customer_id IS NOT NULL
      AND NOT EXISTS (SELECT FROM {store}.customers c WHERE c.customer_id = i.customer_id)
)
SELECT (occurred_at AT TIME ZONE (SELECT business_timezone FROM {store}.settings))::date AS day,
       anomaly, count(*) AS occurrences
FROM judged
WHERE anomaly IS NOT NULL
GROUP BY 1, anomaly;

-- One row per improvement.started; its improvement.ended gives status, ended_on and the note.
CREATE OR REPLACE VIEW waste.improvements AS
SELECT improvement_id, title, target, channel, reason, team, starts_on, owner_team,
       expected_direction, expected_size,
       coalesce(outcome, 'running') AS status,
       (ended_at AT TIME ZONE (SELECT business_timezone FROM {store}.settings))::date AS ended_on,
       outcome_note, started_at, ended_at
FROM {store}.improvements
WHERE started_at IS NOT NULL;
