% rebase('base.tpl')
<section class="login">
<h1>Log in</h1>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/login">
  <input type="hidden" name="csrf" value="{{login_csrf}}">
  <input type="hidden" name="next" value="{{next_url}}">
  <label>Password <input type="password" name="password" id="password" autocomplete="current-password" autofocus required></label>
  <p class="muted">The [WebUI] Password of config.ini, or the API token when no password is set.</p>
  <button type="submit">Log in</button>
</form>
</section>
