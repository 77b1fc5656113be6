// Store dashboard: the week's alerts raised / booked / confirmed, proactive share of service visits,
// lead time of confirmed alerts, technician utilisation and survey score, against the week before.
import { addDays, api, bindLanguageSwitch, boot, h, localDate, query, ready, showError, t, translate } from "./console.js";

const $ = (id) => document.getElementById(id);
let context;
let weekOf = new URLSearchParams(location.search).get("week_of");
let figures = null;
let prediction = null;

const percent = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`);
const number = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));

function tile(id, key, value, before, note = "") {
  return h("div", { class: "tile", dataset: { figure: id } },
    h("div", { class: "label" }, t(key)),
    h("div", { class: "value" }, value),
    h("div", { class: "hint" }, `${t("dash.previous")}: ${before}`),
    note ? h("div", { class: "hint" }, note) : "");
}

function technicians() {
  return h("table", { class: "kv" }, ...figures.week.utilisation.technicians.map((x) => h("tr", {},
    h("th", {}, x.name), h("td", { class: "num" }, percent(x.utilisation)),
    h("td", { class: "num" }, `${number(x.booked_hours)} / ${number(x.shift_hours)} h`))));
}

function openAlerts() {
  const rows = figures.open_alerts;
  return h("div", { class: "tile", dataset: { figure: "open-alerts" } },
    h("div", { class: "label" }, t("dash.open_alerts")),
    h("table", { class: "kv" }, ...rows.map((r) => h("tr", {},
      h("th", {}, t(`mode.${r.mode}`)), h("td", {}, t(`severity.${r.severity}`)), h("td", { class: "num" }, r.count)))));
}

function predictionPanel() {
  // per mode: the store's alerts of the last 30 days per 1,000 vehicle-months beside the false-alert budget,
  // the threshold the budget set, the model's live precision, and whether the mode is held back
  const rows = prediction.modes.map((m) => h("tr", { dataset: { mode: m.mode, held: m.held } },
    h("th", {}, t(`mode.${m.mode}`)),
    h("td", { class: `num ${m.alert_rate_per_1000_vm > m.budget_per_1000_vm ? "over" : ""}` },
      `${number(m.alert_rate_per_1000_vm)} / ${number(m.budget_per_1000_vm)}`),
    h("td", { class: "num" }, m.threshold_z === null ? "–" : `${number(m.threshold_z, 2)} (${number(m.model_threshold_z, 2)})`),
    h("td", { class: "num" }, m.live_precision.precision === null ? "–"
      : `${percent(m.live_precision.precision)} (${m.live_precision.confirmed}/${m.live_precision.confirmed + m.live_precision.refuted})`),
    h("td", {}, m.held ? h("span", { class: "badge sev-critical", title: m.hold_reason }, t("dash.held")) : t("dash.in_queue"))));
  return h("div", { class: "tile wide", dataset: { figure: "prediction" } },
    h("div", { class: "label" }, `${t("dash.prediction")} · ${prediction.model_version}`),
    h("table", { class: "kv" },
      h("tr", {}, h("th", {}, ""), h("th", {}, t("dash.rate_budget")), h("th", {}, t("dash.threshold")),
        h("th", {}, t("dash.precision")), h("th", {}, t("dash.hold"))),
      ...rows));
}

function render() {
  const w = figures.week;
  const p = figures.previous_week;
  $("period").textContent = `${w.week_of} – ${addDays(w.week_of, 6)}`;
  $("tiles").replaceChildren(
    tile("raised", "dash.raised", w.alerts.raised, p.alerts.raised),
    tile("booked", "dash.booked", w.alerts.booked, p.alerts.booked),
    tile("confirmed", "dash.confirmed", w.alerts.confirmed, p.alerts.confirmed),
    tile("proactive", "dash.proactive", percent(w.service_visits.proactive_share),
      percent(p.service_visits.proactive_share),
      `${w.service_visits.from_alerts} / ${w.service_visits.checked_in} ${t("dash.visits")}`),
    tile("lead-time", "dash.lead_time", number(w.lead_time.average_days), number(p.lead_time.average_days),
      `${t("dash.predicted")}: ${number(w.lead_time.predicted_average_days)}`),
    tile("survey", "dash.survey", number(w.survey.average), number(p.survey.average),
      `${w.survey.answered} ${t("dash.answers")}`),
    tile("utilisation", "dash.utilisation", percent(w.utilisation.overall), percent(p.utilisation.overall),
      technicians()),
    openAlerts(),
    predictionPanel(),
  );
}

async function load() {
  [figures, prediction] = await Promise.all([
    api(`/dashboard${query({ store_id: context.store.id, week_of: weekOf })}`),
    api(`/prediction/status${query({ store_id: context.store.id })}`),
  ]);
  weekOf = figures.week.week_of;
  history.replaceState(null, "", `/console/dashboard${query({ week_of: weekOf })}`);
  render();
}

async function main() {
  context = await boot();
  weekOf = weekOf || localDate(new Date());
  $("prev").addEventListener("click", () => { weekOf = addDays(weekOf, -7); load().catch(showError); });
  $("next").addEventListener("click", () => { weekOf = addDays(weekOf, 7); load().catch(showError); });
  bindLanguageSwitch(() => figures && render());
  await load();
  ready();
}

main().catch(showError);
translate();
