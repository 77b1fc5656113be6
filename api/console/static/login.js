// Log in: the API sets the HttpOnly session cookie; then go where the user was heading.
import { api, ApiError, bindLanguageSwitch, t, translate } from "./console.js";

const form = document.getElementById("login");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  try {
    await api("/auth/session", { method: "POST", form: new FormData(form) });
  } catch (e) {
    error.textContent = message(e);
    error.hidden = false;
    return;
  }
  const next = new URLSearchParams(location.search).get("next") || "";
  location.assign(next.startsWith("/console/") ? next : "/console/alerts");
});

function message(e) {
  if (!(e instanceof ApiError)) return e.message;
  if (e.status === 401) return t("login.failed");
  if (e.status === 429) return t("login.throttled").replace("{s}", e.details.retry_after_s ?? "");
  if (e.status === 503) return t("login.busy");
  return e.message;
}

bindLanguageSwitch();
translate();
