// Store dashboard: the week's alerts raised / booked / confirmed, proactive share of service visits,
// lead time of confirmed alerts, technician utilisation and survey score, against the week before.
import { addDays, api, bindLanguageSwitch, boot, h, localDate, query, ready, showError, t, translate } from "./console.js";

const $ = (id) => document.getElementById(id);
let context;
let weekOf = new URLSearchParams(location.search).get("week_of");
let figures = null;

const percent = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`);
const number = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));

function tile(id, key, value, before) {
  return h("div", { class: "tile", dataset: { figure: id } },
    h("div", { class: "label" }, t(key)),
    h("div", { class: "value" }, value),
    h("div", { class: "hint" }, `${t("dash.week")} −1: ${before}`));
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
      percent(p.service_visits.proactive_share)),
    tile("lead-time", "dash.lead_time", number(w.lead_time.average_days), number(p.lead_time.average_days)),
    tile("utilisation", "dash.utilisation", percent(w.utilisation.overall), percent(p.utilisation.overall)),
    tile("survey", "dash.survey", number(w.survey.average), number(p.survey.average)),
    h("div", { class: "tile" }, h("div", { class: "label" }, t("dash.utilisation")),
      ...w.utilisation.technicians.map((x) => h("div", { class: "hint" },
        `${x.name}: ${percent(x.utilisation)} (${number(x.booked_hours)}/${number(x.shift_hours)} h)`))),
  );
}

async function load() {
  figures = await api(`/dashboard${query({ store_id: context.store.id, week_of: weekOf })}`);
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
