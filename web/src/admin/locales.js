// The console's strings, English and Simplified Chinese.
export default {
  en: {
    common: {
      language: 'Language',
      notFound: 'Page not found',
    },
    menu: {
      label: 'Console menu',
      dashboard: 'Dashboard',
      apps: 'Apps',
      users: 'Users',
      conversations: 'Conversations',
      queue: 'Service queue',
      operators: 'Operators',
      roles: 'Roles',
      audit: 'Audit log',
    },
    login: {
      title: 'Console sign-in',
      username: 'Operator name',
      password: 'Password',
      submit: 'Sign in',
      logout: 'Sign out',
      missing: 'Enter your name and password.',
      wrong: 'Wrong name or password.',
      disabled: 'This operator is disabled.',
      throttled: 'Too many attempts; try again in {s} s.',
    },
  },
  'zh-CN': {
    common: {
      language: '语言',
      notFound: '页面不存在',
    },
    menu: {
      label: '控制台菜单',
      dashboard: '仪表盘',
      apps: '应用',
      users: '用户',
      conversations: '会话',
      queue: '客服队列',
      operators: '管理员',
      roles: '角色',
      audit: '审计日志',
    },
    login: {
      title: '控制台登录',
      username: '管理员账号',
      password: '密码',
      submit: '登录',
      logout: '退出',
      missing: '请输入账号和密码。',
      wrong: '账号或密码错误。',
      disabled: '该管理员已停用。',
      throttled: '尝试次数过多，请 {s} 秒后再试。',
    },
  },
}
