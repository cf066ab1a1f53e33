<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{{csrf or ''}}">
<title>{{title}} · qbarr</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
</head>
<body data-page="{{page}}">
<header>
  <a class="brand" href="/">qbarr</a>
  <nav>
    <a href="/" class="{{'active' if page == 'overview' else ''}}">Overview</a>
    <a href="/programs" class="{{'active' if page == 'programs' else ''}}">Programs</a>
    % for inst_name in nav_instances:
    <a href="/instances/{{quote(inst_name)}}" class="{{'active' if page == 'instance' and current_instance == inst_name else ''}}">{{inst_name}}</a>
    % end
    <a href="/journal" class="{{'active' if page == 'journal' else ''}}">Journal</a>
    <a href="/config" class="{{'active' if page == 'config' else ''}}">Config</a>
  </nav>
  % if show_logout:
  <form method="post" action="/logout" class="logout">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit">Log out</button>
  </form>
  % end
</header>
<main>
% if get('storage_warning'):
<p class="flash warning" role="alert">Disk full: {{storage_warning}}</p>
% end
% if msg:
<p class="flash" role="status">{{msg}}</p>
% end
{{!base}}
</main>
</body>
</html>
