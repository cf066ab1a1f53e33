% rebase('base.tpl')
<h1>{{status}}</h1>
<p class="error">{{message}}</p>
<p><a href="/">Back to the overview</a></p>
