import { api } from "./common.js";

const form = document.getElementById("login");
const message = document.getElementById("message");
const HOME = { admin: "/", therapist: "/", researcher: "/research" };

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  message.replaceChildren();
  const data = Object.fromEntries(new FormData(form));
  try {
    const r = await api("/auth/login", { method: "POST", body: data });
    const next = new URLSearchParams(location.search).get("next");
    location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : HOME[r.role] || "/";
  } catch (err) {
    const box = document.createElement("div");
    box.className = "error";
    box.setAttribute("role", "alert");
    box.textContent =
      err.status === 401 ? "Wrong username or password." : err.message || "Log-in failed.";
    message.append(box);
  }
});
