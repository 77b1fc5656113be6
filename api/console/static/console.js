// Shared by every page: API calls with the session cookie, words, the store's clock, the header.
import { WORDS } from "./i18n.js";

const LANG_KEY = "pitcall.lang";
const STORE_KEY = "pitcall.store";
let language = localStorage.getItem(LANG_KEY) || "zh";
let timeZone = "Asia/Shanghai";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.details = body?.error?.details || {};
  }
}

/** Call `/api/v1` with the session cookie; JSON in and out; a lost session goes back to the log-in page. */
export async function api(path, { method = "GET", json, form } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = new URLSearchParams(form);
  }
  const response = await fetch(`/api/v1${path}`, init);
  if (response.status === 401 && document.body.dataset.page !== "login") {
    location.assign(`/console/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, null);
  }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** Build a query string from the defined values of `params`. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
    else if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const lang = () => language;
export const tz = () => timeZone;

/** The word for `key` in the current language (the key itself when missing). */
export function t(key) {
  return WORDS[language][key] ?? WORDS.zh[key] ?? key;
}

/** Translate every [data-i18n] element under `root`. */
export function translate(root = document) {
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = `${t(title.dataset.i18n)} · pitcall`;
  const toggle = document.getElementById("lang-switch");
  if (toggle) toggle.textContent = language === "zh" ? "EN" : "中文";
}

/** Switch language, remember it, and re-render through `rerender`. */
export function bindLanguageSwitch(rerender) {
  document.getElementById("lang-switch")?.addEventListener("click", () => {
    language = language === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, language);
    translate();
    rerender?.();
  });
}

function formatter(options) {
  return new Intl.DateTimeFormat(language === "zh" ? "zh-CN" : "en-GB", { timeZone, hour12: false, ...options });
}

/** A time as the store's wall clock: "2026-11-30 14:05". */
export function dateTime(iso) {
  if (!iso) return "–";
  return formatter({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
    .format(new Date(iso));
}

export function clock(iso) {
  return formatter({ hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}

export function dayLabel(date) {
  return formatter({ weekday: "short", month: "2-digit", day: "2-digit" }).format(date);
}

/** The store-local calendar date (YYYY-MM-DD) of an instant. */
export function localDate(instant) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(instant);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** The instant at which the store-local `date` (YYYY-MM-DD) starts. */
export function startOfLocalDay(date) {
  const guess = new Date(`${date}T00:00:00Z`);
  const offsetMinutes = (at) => {
    const local = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric",
      day: "numeric", hour: "numeric", minute: "numeric" }).formatToParts(at);
    const v = Object.fromEntries(local.map((p) => [p.type, p.value]));
    return (Date.UTC(v.year, v.month - 1, v.day, v.hour, v.minute) - at.getTime()) / 60000;
  };
  return new Date(guess.getTime() - offsetMinutes(guess) * 60000);
}

export function addDays(date, days) {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Create an element: h("td", {class: "x", onclick: f}, "text", child). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Show a short message at the top of the page. */
export function flash(message, kind = "info") {
  const el = document.getElementById("flash");
  if (!el) return;
  el.textContent = message;
  el.className = kind;
  el.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

/** Report an API error to the user. */
export function showError(error) {
  flash(error instanceof ApiError ? `${error.status} ${error.message}` : t("common.error"), "error");
  if (!(error instanceof ApiError)) console.error(error);
}

/** Mark the page as rendered with data (the browser test and the load figure read this mark). */
export function ready() {
  if (document.body.dataset.ready) return;
  performance.mark("console:ready");
  document.body.dataset.ready = "1";
}

/** Load who I am and my store, set the language and clock, fill the header; returns {me, store}. */
export async function boot() {
  const [me, stores] = await Promise.all([api("/me"), api("/stores?limit=200")]);
  if (!localStorage.getItem(LANG_KEY) && WORDS[me.language]) language = me.language;
  const storeId = Number(localStorage.getItem(STORE_KEY)) || me.store_id || me.store_ids[0];
  const wanted = me.store_ids.includes(storeId) ? storeId : me.store_ids[0];
  const store = stores.items.find((s) => s.id === wanted) || { id: wanted };
  timeZone = store.timezone || timeZone;
  document.getElementById("user-name").textContent = me.name;
  document.getElementById("store-name").replaceChildren(storePicker(stores.items, store));
  document.querySelector(`[data-nav="${document.body.dataset.page}"]`)?.classList.add("current");
  document.getElementById("logout").addEventListener("click", async () => {
    await api("/auth/logout", { method: "POST" }).catch(() => null);
    location.assign("/console/login");
  });
  translate();
  return { me, store };
}

/** The store's name, or a picker for people who see several stores (group admins). */
function storePicker(stores, current) {
  if (stores.length < 2) return current.name || "";
  const picker = h("select", { id: "store-picker", onchange: () => {
    localStorage.setItem(STORE_KEY, picker.value);
    location.reload();
  } }, ...stores.map((s) => h("option", { value: s.id, selected: s.id === current.id }, s.name)));
  return picker;
}

export function badge(kind, value) {
  return h("span", { class: `badge ${kind}-${value}` }, t(`${kind}.${value}`));
}
